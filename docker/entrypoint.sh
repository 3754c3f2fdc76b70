#!/bin/sh
# The image's entrypoint: make /data writable for the `relais` user, then run the command
# (`relais run` by default) as that user, never as root.
#
# Started as root (the default), it gives /data to relais first: a named volume already
# belongs to it, but a host folder mounted there (-v ./data:/data) belongs to the host's
# user. Started with --user UID:GID, it changes nothing: that user must own /data.
set -eu
if [ "$(id -u)" = "0" ]; then
    # Only what is not relais's yet, so that a large volume is not walked at every start.
    find /data \( ! -user relais -o ! -group relais \) -exec chown relais:relais {} +
    # setpriv changes the ids, not the environment: HOME must follow (asyncpg, matplotlib).
    HOME="$(getent passwd relais | cut -d: -f6)"
    export HOME
    exec setpriv --reuid=relais --regid=relais --init-groups --no-new-privs -- "$@"
fi
exec "$@"
