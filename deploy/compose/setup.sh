#!/usr/bin/env bash
# The compose trial's one-time material, written to /trial (deploy/compose/trial on the machine):
#   pki/            the deployment CA and one TLS certificate per service (`enclave pki`), plus `operator`
#   root/, hosts/R/platform/   a SIMULATED platform root and one platform key per region (`enclave node`)
#   team/           the security team's enrolment key;  owner/  the data owner's signing key
#   verifier/       the verifier's data folder with its signing key; its public keys in trust/verifier-keys.jwks
#   aggregator/     the coordinator's data folder with its signing key; its public key in trust/coordinator.jwk
#   enclave-image/  the enclave build configured with those trust anchors (simulated mode)
#   compose.env     ENCLAVE_MEASUREMENT, for `docker compose --env-file trial/compose.env`
# Run by `docker compose --profile setup run --rm setup` (in the host image, which carries the enclave build).
set -euo pipefail

trial=/trial
regions=(eu-west us-east ap-south)
issuer=https://verifier:7101

if [ -e "$trial/compose.env" ]; then
  echo "$trial is already set up (remove deploy/compose/trial to start over)"
  exit 0
fi

mkdir -p "$trial/pki" "$trial/trust" "$trial/team" "$trial/owner" "$trial/verifier" "$trial/aggregator" "$trial/broker"

enclave pki init --out "$trial/pki"
for name in verifier broker aggregator operator; do
  enclave pki issue --ca "$trial/pki" --name "$name" --dns "$name,localhost" --ip 127.0.0.1 --out "$trial/pki"
done

enclave node init-root --dir "$trial/root"
for region in "${regions[@]}"; do
  enclave pki issue --ca "$trial/pki" --name "host-$region" --dns "host-$region,localhost" --ip 127.0.0.1 --out "$trial/pki"
  mkdir -p "$trial/hosts/$region/data"
  enclave node init --root-dir "$trial/root" --platform-dir "$trial/hosts/$region/platform" > "$trial/hosts/$region/platform-id"
done

enclave node keygen --out "$trial/team/team.key"
cp "$trial/team/team.key.jwk" "$trial/trust/team.jwk"
enclave node keygen --out "$trial/owner/owner.key"

# The model owner signs the training plan every round carries; data owners pin its hash (enclave plan hash).
mkdir -p "$trial/model-owner"
enclave node keygen --out "$trial/model-owner/owner.key"
cat > "$trial/model-owner/plan.json" <<'PLAN'
{"type":"enclave-training-plan/1","id":"trial-fashion-mlp","purpose":"fashion-classification",
 "model":{"kind":"mlp","hidden":128},"optimizer":{"learningRate":0.02,"momentum":0.9},
 "localEpochs":1,"batchSize":32,"rounds":1000,
 "algorithm":{"proximalMu":0,"server":{"kind":"sgd","learningRate":1,"momentum":0}},
 "updateClipNorm":100,"privacy":{"kind":"none"},"seed":7}
PLAN
enclave plan sign "$trial/model-owner/plan.json" --key "$trial/model-owner/owner.key" --out "$trial/trust/plan.jws" > "$trial/trust/plan.sha256"
cp "$trial/model-owner/owner.key.jwk" "$trial/trust/model-owner.jwk"

# The verifier's and the coordinator's signing keys, created before they first start so that their public halves
# can be pinned in the enclave image and the broker.
enclave provision verifier --data-dir "$trial/verifier"
cp "$trial/verifier/verifier-keys.jwks" "$trial/trust/verifier-keys.jwks"
enclave provision coordinator --data-dir "$trial/aggregator"
cp "$trial/aggregator/coordinator.jwk" "$trial/trust/coordinator.jwk"

# --link: the image's third-party files are links into /opt/enclave/build, which every host container has (the
# same host image); the measurement covers their content all the same.
measurement=$(enclave image configure --build /opt/enclave/build --out "$trial/enclave-image" --verifier-issuer "$issuer" \
  --verifier-keys "$trial/trust/verifier-keys.jwks" --coordinator-key "$trial/trust/coordinator.jwk" --simulated --link)

echo "ENCLAVE_MEASUREMENT=$measurement" > "$trial/compose.env"
echo "trial material in $trial; enclave image measurement $measurement"

# The services run as the images' non-root user; the material is theirs (and root's) only.
chown -R "${ENCLAVE_UID:-1654}" "$trial"
