//! Settings a running resource keeps: a template for a stack that CloudFormation already
//! holds says, for each resource it already made, what the deployed template said of the
//! settings AWS takes only at create (storage encryption, the root volume's encryption).
//!
//! Changing `StorageEncrypted` on an `AWS::RDS::DBInstance`, or `BlockDeviceMappings` on
//! an `AWS::EC2::Instance`, makes CloudFormation replace the resource. A default that
//! changed under a running resource (issue 16: encryption became the default) must not
//! replace it, as the direct engine does not (`plan::attrs::create_only`): new resources
//! get the stack's settings, running ones keep theirs.

use serde_json::Value as Json;

/// Rewrite `template`'s resources that `deployed` already has (same logical id and type)
/// so that their create-only settings are the deployed ones.
pub fn keep_create_only(template: &mut Json, deployed: &Json) {
    let Some(resources) = template["Resources"].as_object_mut() else {
        return;
    };
    for (id, resource) in resources.iter_mut() {
        let old = &deployed["Resources"][id.as_str()];
        let kind = resource["Type"].as_str().unwrap_or_default().to_string();
        if old["Type"].as_str() != Some(kind.as_str()) {
            continue;
        }
        let old = &old["Properties"];
        let Some(props) = resource.get_mut("Properties").and_then(Json::as_object_mut) else {
            continue;
        };
        match kind.as_str() {
            "AWS::RDS::DBInstance" => match old.get("StorageEncrypted") {
                Some(v) => {
                    props.insert("StorageEncrypted".into(), v.clone());
                }
                None => {
                    props.remove("StorageEncrypted");
                }
            },
            "AWS::EC2::Instance" => {
                let was = old["BlockDeviceMappings"][0]["Ebs"]["Encrypted"].clone();
                let had_mapping = !old["BlockDeviceMappings"].is_null();
                match props.get_mut("BlockDeviceMappings") {
                    Some(mapping) => {
                        let ebs = &mut mapping[0]["Ebs"];
                        if let Some(ebs) = ebs.as_object_mut() {
                            if was.is_null() {
                                ebs.remove("Encrypted");
                            } else {
                                ebs.insert("Encrypted".into(), was);
                            }
                            let old_ebs = &old["BlockDeviceMappings"][0]["Ebs"];
                            if !ebs.contains_key("VolumeSize")
                                && let Some(size) = old_ebs.get("VolumeSize")
                            {
                                ebs.insert("VolumeSize".into(), size.clone());
                            }
                            // A mapping made only to encrypt, for an instance launched
                            // without one: none, as deployed.
                            if !had_mapping && !ebs.contains_key("VolumeSize") {
                                props.remove("BlockDeviceMappings");
                            }
                        }
                        // The device it was launched with (the engine names the image's).
                        let device = &old["BlockDeviceMappings"][0]["DeviceName"];
                        if let Some(mapping) = props.get_mut("BlockDeviceMappings")
                            && !device.is_null()
                        {
                            mapping[0]["DeviceName"] = device.clone();
                        }
                    }
                    // The stack turned encryption off (and gives no size): the mapping
                    // the instance was launched with stays.
                    None if had_mapping && !was.is_null() => {
                        props.insert(
                            "BlockDeviceMappings".into(),
                            old["BlockDeviceMappings"].clone(),
                        );
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn db(props: Json) -> Json {
        json!({ "Type": "AWS::RDS::DBInstance", "Properties": props })
    }

    fn instance(props: Json) -> Json {
        json!({ "Type": "AWS::EC2::Instance", "Properties": props })
    }

    fn mapping(ebs: Json) -> Json {
        json!([{ "DeviceName": "/dev/sda1", "Ebs": ebs }])
    }

    /// A stack deployed before encryption was the default: its database and instances
    /// keep what they were made with, so the change set replaces nothing; a resource new
    /// to the stack gets the defaults.
    #[test]
    fn running_resources_keep_their_create_only_settings() {
        let deployed = json!({ "Resources": {
            "DatabaseApps": db(json!({ "Engine": "mysql" })),
            "DatabaseOld": db(json!({ "StorageEncrypted": false })),
            "InstanceA0": instance(json!({ "ImageId": "ami-1" })),
            "InstanceB0": instance(json!({
                "BlockDeviceMappings": mapping(json!({ "VolumeSize": "10", "DeleteOnTermination": true })),
            })),
        }});
        let encrypted = |size: Option<&str>| {
            let mut ebs = json!({ "DeleteOnTermination": true, "Encrypted": true });
            if let Some(s) = size {
                ebs["VolumeSize"] = json!(s);
            }
            mapping(ebs)
        };
        let mut template = json!({ "Resources": {
            "DatabaseApps": db(json!({ "Engine": "mysql", "StorageEncrypted": true })),
            "DatabaseOld": db(json!({ "StorageEncrypted": true })),
            "DatabaseNew": db(json!({ "StorageEncrypted": true })),
            "InstanceA0": instance(json!({ "ImageId": "ami-1", "BlockDeviceMappings": encrypted(None) })),
            "InstanceA1": instance(json!({ "ImageId": "ami-1", "BlockDeviceMappings": encrypted(None) })),
            "InstanceB0": instance(json!({ "BlockDeviceMappings": encrypted(Some("10")) })),
        }});
        keep_create_only(&mut template, &deployed);
        let r = &template["Resources"];
        assert_eq!(
            r["DatabaseApps"]["Properties"],
            json!({ "Engine": "mysql" })
        );
        assert_eq!(
            r["DatabaseOld"]["Properties"]["StorageEncrypted"],
            json!(false)
        );
        assert_eq!(
            r["DatabaseNew"]["Properties"]["StorageEncrypted"],
            json!(true)
        );
        assert_eq!(r["InstanceA0"]["Properties"], json!({ "ImageId": "ami-1" }));
        assert_eq!(
            r["InstanceA1"]["Properties"]["BlockDeviceMappings"],
            encrypted(None)
        );
        assert_eq!(
            r["InstanceB0"]["Properties"],
            deployed["Resources"]["InstanceB0"]["Properties"]
        );
    }

    #[test]
    fn an_encrypted_volume_stays_encrypted_when_the_stack_turns_it_off() {
        let deployed = json!({ "Resources": {
            "InstanceA0": instance(json!({
                "BlockDeviceMappings": mapping(json!({ "DeleteOnTermination": true, "Encrypted": true })),
            })),
        }});
        let mut template = json!({ "Resources": { "InstanceA0": instance(json!({})) } });
        keep_create_only(&mut template, &deployed);
        assert_eq!(template, deployed);
    }
}
