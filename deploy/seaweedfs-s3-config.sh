#!/bin/sh
# Entrypoint of the compose file's S3 server (SeaweedFS): writes its identity file from the same
# PRONSCORE_S3_ACCESS_KEY_ID and PRONSCORE_S3_SECRET_ACCESS_KEY that pronscore reads, then runs
# `weed` with the arguments given and that file. The keys are never written into the repository.
set -eu
key=${PRONSCORE_S3_ACCESS_KEY_ID:?set PRONSCORE_S3_ACCESS_KEY_ID (for example in .env)}
secret=${PRONSCORE_S3_SECRET_ACCESS_KEY:?set PRONSCORE_S3_SECRET_ACCESS_KEY (for example in .env)}
case "$key$secret" in
  *'"'* | *'\'*) echo "seaweedfs-s3-config: the S3 keys may not contain quotes or backslashes" >&2; exit 2 ;;
esac
config=${SEAWEEDFS_S3_CONFIG:-/tmp/seaweedfs-s3.json}
umask 077
cat > "$config" <<JSON
{"identities": [{"name": "pronscore", "credentials": [{"accessKey": "$key", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
exec weed "$@" -s3.config="$config"
