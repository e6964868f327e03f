#!/bin/bash
# User data of a heart/router node: installs Paasmaker on first boot to run applications
# (heart) and route HTTP to them (router), reporting to the Pacemaker.
#
# stackwright renders this file before the instance starts, filling in the var and secret
# references. Shell variables are written $NAME, without braces, so that none of them can
# be mistaken for a reference. The script echoes nothing secret: keep set -x off.
set -euo pipefail

PM_USER=ubuntu                          # Paasmaker runs unprivileged; its installer sudoes where it must
PM_DIR=/home/$PM_USER/paasmaker
PM_CONFIG=/home/$PM_USER/paasmaker-install.yml
GIT_URL='${var.paasmaker_git_url}'
GIT_REF='${var.paasmaker_git_ref}'
MASTER='${var.cluster_hostname}'

as_user() { sudo -H -u "$PM_USER" "$@"; }

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get -y -o Dpkg::Options::=--force-confold dist-upgrade
# git to fetch Paasmaker; ntp because the router stats are only as good as the nodes' clocks.
apt-get -y install git ntp

as_user git clone "$GIT_URL" "$PM_DIR"
(cd "$PM_DIR" && as_user git checkout --quiet "$GIT_REF")

# The install configuration carries the node token: only its owner may read it. The
# quoted heredoc keeps the shell from touching its contents.
(umask 077 && cat >"$PM_CONFIG" <<'PAASMAKER_CONFIG'
# Paasmaker install configuration for a heart/router, written by stackwright user data.
# Edit and re-run ./install.py with it to change this node.
is_heart: true
is_router: true
is_pacemaker: false

cluster_hostname: ${var.cluster_hostname}
frontend_domain_postfix: ''

# Where to register, and the shared secret that proves this node belongs to the cluster.
master_node: ${var.cluster_hostname}
master_port: 42500
node_token: '${secret.node_token}'
# Jobs and stats go straight to the Pacemaker's Redis; the routing table is replicated
# into a local Redis, so this router keeps routing while the Pacemaker is away.
redis_mode: defer-to-master

shutdown_daemons_on_exit: false   # restarting Paasmaker must not stop nginx or applications

install_init_script: true
enable_init_script: true
init_redirect_port80: true        # the ELB sends port 80; nginx listens unprivileged on 42531

runtime_php_enable: true
runtime_php_disable_system_apache: true
runtime_rbenv_enable: true
runtime_rbenv_versions: ['1.9.3-p327']

service_managedredis_enable: false
service_managedpostgres_enable: false
service_managedmysql_enable: false

write_paasmaker_configuration: true
PAASMAKER_CONFIG
)
chown "$PM_USER:" "$PM_CONFIG"

# Long with the Ruby runtime enabled: it is compiled from source.
(cd "$PM_DIR" && as_user ./install.py "$PM_CONFIG")

# A heart registers with the master as it starts. The Pacemaker was launched shortly
# before this node and may still be installing, so wait (up to 30 minutes) for its API to answer. If it never does,
# start anyway: the init script brings Paasmaker up again on every boot.
for attempt in $(seq 1 120); do
  if timeout 5 bash -c "exec 3<>/dev/tcp/$MASTER/42500" 2>/dev/null; then
    break
  fi
  echo "Waiting for the Pacemaker at $MASTER:42500 (attempt $attempt)"
  sleep 15
done

/etc/init.d/paasmaker start
echo "Paasmaker heart/router installed and started."
