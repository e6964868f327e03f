//! Key pairs: the public key, inline or read from a file, must be an OpenSSH public key.

use crate::stack::model::KeyPair;
use crate::stack::raw;

use super::{Checker, Use};

impl Checker<'_> {
    pub(super) fn key_pair(&mut self, kp: &raw::KeyPair) -> Option<KeyPair> {
        let text = self
            .text_source(&kp.public_key, "file", "public_key", Use::Known)?
            .as_literal()?;
        let key = text.trim().to_string();
        let mut fields = key.split_whitespace();
        let algorithm = fields.next().unwrap_or("");
        let body = fields.next().unwrap_or("");
        let known = [
            "ssh-rsa",
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp521",
        ];
        let base64 = !body.is_empty()
            && body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
        if !known.contains(&algorithm) || !base64 {
            self.push(
                self.error(kp.public_key.span(), "`public_key` is not an OpenSSH public key")
                    .hint("it starts with `ssh-ed25519`, `ssh-rsa` or `ecdsa-sha2-…`, then the key in base64"),
            );
            return None;
        }
        Some(KeyPair { public_key: key })
    }
}
