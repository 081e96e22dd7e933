#!/usr/bin/env bash
# The trial's second step, once the verifier, the broker and the hosts are up: the security team enrols each
# region's platform (verifier registry and broker audit log), and the data owner encrypts one Fashion-MNIST shard
# per region into that host's data folder and registers its key under a release policy that allows the trial's
# measurement, simulated attestation and that region only. Appends ENCLAVE_OWNER (the owner key's thumbprint,
# which namespaces the key ids) to compose.env for the aggregator.
# Run by `docker compose --env-file trial/compose.env --profile provision run --rm provision`.
set -euo pipefail

trial=/trial
regions=(eu-west us-east ap-south)
issuer=https://verifier:7101
measurement=${ENCLAVE_MEASUREMENT:?give --env-file trial/compose.env}
samples=${ENCLAVE_SAMPLES_PER_REGION:-2000}

if grep -q '^ENCLAVE_OWNER=' "$trial/compose.env"; then
  echo "already provisioned"
  exit 0
fi

index=0
for region in "${regions[@]}"; do
  enclave node enroll --verifier https://verifier:7100 --broker https://broker:7200 --key "$trial/team/team.key" \
    --platform-id "$(cat "$trial/hosts/$region/platform-id")" --region "$region" --tls-ca "$trial/pki/ca.crt"

  enclave data encrypt --dataset-id "fmnist-$region" --region "$region" --shard "$index/${#regions[@]}" --limit "$samples" \
    --out "$trial/hosts/$region/data/fmnist-$region.encds" --key-out "$trial/owner/$region.datakey"
  enclave key policy --verifier-issuer "$issuer" --measurement "$measurement" --region "$region" --allow-simulated \
    --out "$trial/owner/$region.policy.json"
  key_id=$(enclave key register --broker https://broker:7200 --name "fmnist-$region" --key-file "$trial/owner/$region.datakey" \
    --owner-key "$trial/owner/owner.key" --policy "$trial/owner/$region.policy.json" --tls-ca "$trial/pki/ca.crt")
  echo "registered $key_id for $region"
  index=$((index + 1))
done

echo "ENCLAVE_OWNER=${key_id%%/*}" >> "$trial/compose.env"
chown -R "${ENCLAVE_UID:-1654}" "$trial"
