#!/usr/bin/env bash
# A three-region federation deployed by hand as in docs/deploy.md, each "machine" a Linux network namespace on this
# one machine: one namespace per region (its host, its enclave, its data owner's encrypted shard) and one for the
# central services (verifier, key broker, coordinator), each joined by a veth pair to a bridge that lives in a
# namespace of its own. Addresses exist only inside those namespaces (10.77.0.0/24, no default route), so nothing
# here can reach, or touch, the machine's own network. tcpdump records every frame on the bridge for the whole run;
# scripts/multihost/analyze.py then proves from the capture that every stream was TLS from its first byte and that
# no sampled window of any region's plaintext, ciphertext or data key crossed it.
#
#   sudo bash scripts/multihost.sh [--rounds N] [--json PATH] [--link-down-test] [--samples N] [--epochs N] [--keep DIR]
#
# --link-down-test, after the N rounds: (a) one region's link down before a round -> the round aborts cleanly (three
# regions are the minimum cohort), (b) the link back -> the next round completes with all three, (c) the link
# dropped after that region's prepare answer is in (the cohort is fixed) -> the round completes without it.
# Everything this creates (namespaces, veths, processes, files) is removed on exit, also on failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
started=$SECONDS

rounds=2 json_out="" link_down_test=0 samples=20000 epochs=1 keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --json) json_out=$(realpath -m "$2"); shift 2 ;;
    --link-down-test) link_down_test=1; shift ;;
    --samples) samples=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --keep) keep=$(realpath -m "$2"); shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--json PATH] [--link-down-test] [--samples N] [--epochs N] [--keep DIR]" >&2; exit 2 ;;
  esac
done

say() { printf '[%4ds] %s\n' $((SECONDS - started)) "$*"; }
die() { echo "multihost: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
ip netns list >/dev/null 2>&1 || die "ip netns is not available"

# Tools: tcpdump for the capture, tshark for an independent count of ClientHellos, python3 with `cryptography`
# for the analysis (it decrypts each shard to sample its plaintext).
missing=()
command -v tcpdump >/dev/null || missing+=(tcpdump)
command -v tshark >/dev/null || missing+=(tshark)
python=python3
if ! python3 -c 'import cryptography' 2>/dev/null; then
  python=/usr/bin/python3
  /usr/bin/python3 -c 'import cryptography' 2>/dev/null || missing+=(python3 python3-cryptography)
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cli="$root/src/Cli/bin/Release/net10.0/enclave.dll"
if [ "${ENCLAVE_MULTIHOST_NO_BUILD:-0}" != 1 ]; then
  bash "$root/scripts/enclave" --version >/dev/null  # builds src/Cli when a source is newer than the build
fi
[ -f "$cli" ] || die "$cli is not built"

regions=(eu-west us-east ap-south)
declare -A ip=([central]=10.77.0.1 [eu-west]=10.77.0.11 [us-east]=10.77.0.12 [ap-south]=10.77.0.13)
ns_prefix="emh$$"
bridge_ns="$ns_prefix-bridge"
ns() { echo "$ns_prefix-$1"; }
verifier_grpc="https://${ip[central]}:7001" issuer="https://${ip[central]}:7002"
broker_url="https://${ip[central]}:7003" aggregator_url="https://${ip[central]}:7005"
host_url() { echo "https://${ip[$1]}:7010"; }

work=$(mktemp -d /tmp/enclave-multihost.XXXXXX)
pids=()
tcpdump_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "$tcpdump_pid" ] && kill -INT "$tcpdump_pid" 2>/dev/null && wait "$tcpdump_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Anything still inside our namespaces was started by this script (the enclaves are the hosts' children).
  for name in $(ip netns list | awk -v p="$ns_prefix-" 'index($1, p) == 1 { print $1 }'); do
    for pid in $(ip netns pids "$name" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for name in $(ip netns list | awk -v p="$ns_prefix-" 'index($1, p) == 1 { print $1 }'); do
    ip netns del "$name" 2>/dev/null || true
  done
  if [ -n "$keep" ]; then rm -rf "$keep" && cp -a "$work" "$keep"; fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------------------
# The network: a bridge in its own namespace, one veth pair per machine, addresses only inside the namespaces.
say "network: namespaces $(ns central), ${regions[*]/#/$ns_prefix-} on a bridge in $bridge_ns (10.77.0.0/24, no route out)"
ip netns add "$bridge_ns"
ip -n "$bridge_ns" link add br0 type bridge
ip -n "$bridge_ns" link set br0 up
for machine in central "${regions[@]}"; do
  n=$(ns "$machine")
  ip netns add "$n"
  ip netns exec "$n" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$bridge_ns" link add "v-$machine" type veth peer name eth0 netns "$n"
  ip -n "$bridge_ns" link set "v-$machine" master br0 up
  ip -n "$n" link set lo up
  ip -n "$n" addr add "${ip[$machine]}/24" dev eth0
  ip -n "$n" link set eth0 up
done
ip netns exec "$bridge_ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$bridge_ns" tcpdump -i br0 -n -U -s 0 -w "$work/bridge.pcap" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q listening "$work/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$work/tcpdump.log" || die "tcpdump did not start: $(cat "$work/tcpdump.log")"

# One folder per party; a service's folder is "its machine's disk". Each region's ciphertext lives only in
# $work/REGION/data, and its data owner's key only in $work/owner-REGION.
enclave() { dotnet "$cli" "$@"; }
at() { local machine=$1; shift; ip netns exec "$(ns "$machine")" dotnet "$cli" "$@"; }
team=$work/security-team central=$work/central
mkdir -p "$team" "$central" "$work/logs"

# ---------------------------------------------------------------------------------------------------------------
# docs/deploy.md step 1. Security team: the deployment CA and a TLS certificate per service (for its namespace IP),
# the simulated platform root, one platform per region's host, the enrolment key.
say "security team: deployment CA, TLS certificates for the namespace addresses, simulated root, platforms"
enclave pki init --out "$team/ca" >/dev/null
for service in verifier broker aggregator; do
  enclave pki issue --ca "$team/ca" --name "$service" --ip "${ip[central]}" --out "$central/tls" >/dev/null
done
enclave pki issue --ca "$team/ca" --name operator --out "$central/tls" >/dev/null
cp "$team/ca/ca.crt" "$central/tls/"
enclave node init-root --dir "$team/root" >/dev/null
enclave node keygen --out "$team/team.key" >/dev/null
declare -A platform
for region in "${regions[@]}"; do
  mkdir -p "$work/$region/tls"
  enclave pki issue --ca "$team/ca" --name "host-$region" --ip "${ip[$region]}" --out "$work/$region/tls" >/dev/null
  cp "$team/ca/ca.crt" "$work/$region/tls/"
  platform[$region]=$(enclave node init --root-dir "$team/root" --platform-dir "$work/$region/platform" | grep -Eo '[0-9a-f]{64}' | head -1)
done
cp "$team/root/root.crt" "$team/team.key.jwk" "$central/"

# Step 2. Verifier and coordinator operators provision their signing keys; only the public halves travel.
say "central: provisioning the verifier's and the coordinator's signing keys"
enclave provision verifier --data-dir "$central/verifier" >/dev/null
enclave provision coordinator --data-dir "$central/aggregator" >/dev/null

# Step 3. Security team builds the image with those public keys pinned; its measurement goes to owners and coordinator.
measurement=$(enclave image configure --out "$team/enclave-image" --verifier-issuer "$issuer" \
  --verifier-keys "$central/verifier/verifier-keys.jwks" --coordinator-key "$central/aggregator/coordinator.jwk" --simulated --link --json \
  | "$python" -c 'import json,sys; print(json.load(sys.stdin)["measurement"])')
for region in "${regions[@]}"; do cp -a "$team/enclave-image" "$work/$region/enclave-image"; done
say "image measurement $measurement"

# Step 3b. The model owner signs the training plan; data owners pin its hash.
model_owner=$work/model-owner
mkdir -p "$model_owner"
enclave node keygen --out "$model_owner/owner.key" >/dev/null
cat > "$model_owner/plan.json" <<PLAN
{"type":"enclave-training-plan/1","id":"multihost-fashion-mlp","purpose":"fashion-classification",
 "model":{"kind":"mlp","hidden":128},"optimizer":{"learningRate":0.02,"momentum":0.9},
 "localEpochs":$epochs,"batchSize":32,"rounds":1000,
 "algorithm":{"proximalMu":0,"server":{"kind":"sgd","learningRate":1,"momentum":0}},
 "updateClipNorm":100,"privacy":{"kind":"none"},"seed":7}
PLAN
plan_hash=$(enclave plan sign "$model_owner/plan.json" --key "$model_owner/owner.key" --out "$model_owner/plan.jws")
say "model owner: plan $plan_hash"

# Step 4. Each data owner, in its region: encrypt its shard into its host's data folder, an owner key, a policy.
declare -A key_id
for i in "${!regions[@]}"; do
  region=${regions[$i]} owner=$work/owner-${regions[$i]}
  mkdir -p "$owner"
  at "$region" data encrypt --dataset-id "fmnist-$region" --region "$region" --shard "$i/3" --limit "$samples" \
    --out "$work/$region/data/fmnist-$region.encds" --key-out "$owner/data.key" >/dev/null
  enclave node keygen --out "$owner/owner.key" >/dev/null
  enclave key policy --verifier-issuer "$issuer" --measurement "$measurement" --region "$region" --allow-simulated --allow-plan "$plan_hash" --out "$owner/policy.json"
  key_id[$region]=$("$python" "$root/scripts/multihost/keyid.py" "$owner/owner.key.jwk" "$region-data")
done
say "data owners: ${samples} examples per region encrypted; key ids ${key_id[*]}"

# Step 5. Services, in an order no dependency dictates (none dials another before it is asked to).
tls() { echo --tls-cert "$1/$2.crt" --tls-key "$1/$2.key" --tls-ca "$1/ca.crt"; }
start() {
  local name=$1 machine=$2; shift 2
  ip netns exec "$(ns "$machine")" dotnet "$cli" "$@" --ready-file "$work/logs/$name.ready" >"$work/logs/$name.log" 2>&1 &
  pids+=($!)
  echo "$!" >"$work/logs/$name.pid"
}
ready() {
  local name=$1
  for _ in $(seq 900); do
    [ -s "$work/logs/$name.ready" ] && return 0
    kill -0 "$(cat "$work/logs/$name.pid")" 2>/dev/null || { tail -20 "$work/logs/$name.log" >&2; die "$name exited"; }
    sleep 0.1
  done
  die "$name did not report ready"
}
aggregator_args=()
for region in "${regions[@]}"; do
  aggregator_args+=(--host "$region=$(host_url "$region")" --dataset "$region=fmnist-$region" --key "$region=${key_id[$region]}")
done
say "starting the coordinator, the three hosts, the broker and the verifier (in that order)"
start aggregator central serve aggregator --listen "${ip[central]}" --port 7005 --data-dir "$central/aggregator" \
  --verifier-issuer "$issuer" --verifier-keys "$central/verifier/verifier-keys.jwks" --measurement "$measurement" \
  --broker "$broker_url" --allow-simulated --plan "$model_owner/plan.jws" --plan-owner-key "$model_owner/owner.key.jwk" "${aggregator_args[@]}" $(tls "$central/tls" aggregator)
for region in "${regions[@]}"; do
  start "host-$region" "$region" serve host --region "$region" --listen "${ip[$region]}" --port 7010 \
    --data-dir "$work/$region/data" --enclave-dir "$work/$region/enclave-image" --platform-dir "$work/$region/platform" \
    --verifier "$verifier_grpc" --broker "$broker_url" $(tls "$work/$region/tls" "host-$region")
done
start broker central serve broker --listen "${ip[central]}" --grpc-port 7003 --http-port 7004 --data-dir "$central/broker" \
  --verifier-issuer "$issuer" --verifier-keys "$central/verifier/verifier-keys.jwks" --simulated \
  --coordinator-key "$central/aggregator/coordinator.jwk" --enrollment-key "$central/team.key.jwk" $(tls "$central/tls" broker)
start verifier central serve verifier --listen "${ip[central]}" --grpc-port 7001 --http-port 7002 --issuer "$issuer" \
  --data-dir "$central/verifier" --allow-simulated --simulated-root "$central/root.crt" --enrollment-key "$central/team.key.jwk" \
  $(tls "$central/tls" verifier)
for name in aggregator host-eu-west host-us-east host-ap-south broker verifier; do ready "$name"; done

# Step 6. Security team enrols each platform (from that region's machine); each data owner registers its key.
for region in "${regions[@]}"; do
  at "$region" node enroll --verifier "$verifier_grpc" --broker "$broker_url" --key "$team/team.key" \
    --platform-id "${platform[$region]}" --region "$region" --tls-ca "$work/$region/tls/ca.crt" >/dev/null
  registered=$(at "$region" key register --broker "$broker_url" --name "$region-data" --key-file "$work/owner-$region/data.key" \
    --owner-key "$work/owner-$region/owner.key" --policy "$work/owner-$region/policy.json" --tls-ca "$work/$region/tls/ca.crt" | tail -1)
  [ "$registered" = "${key_id[$region]}" ] || die "$region: the broker registered $registered, the coordinator expects ${key_id[$region]}"
done
say "platforms enrolled, keys registered"

# Step 7. The coordinator's operator runs the rounds.
run_rounds() {  # N OUT.json
  # In the background and waited for, so that a signal to this script is acted on at once.
  ip netns exec "$(ns central)" dotnet "$cli" round run --aggregator "$aggregator_url" --rounds "$1" --json "$2" \
    $(tls "$central/tls" operator) >>"$work/logs/round-run.log" 2>&1 &
  wait $! || true
  [ -s "$2" ] || { tail -20 "$work/logs/round-run.log" >&2; die "round run wrote no summary"; }
}
summaries=()
say "running $rounds round(s)"
run_rounds "$rounds" "$work/rounds.json"
summaries+=("$work/rounds.json")
"$python" - "$work/rounds.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["rounds"]:
    print(f"  round {r['round']}: completed={r['completed']} accuracy={r['accuracy']} regions={[p['region'] for p in r['participants']]}")
EOF

link_down_json=null
if [ "$link_down_test" = 1 ]; then
  victim=eu-west
  link() { ip -n "$bridge_ns" link set "v-$1" "$2"; }
  prepared() { grep -c 'RegionHost/Prepare - 200' "$work/logs/host-$1.log" || true; }
  # With the link down the coordinator's TCP gets no answer at all; 3 retransmissions (about 3 s, not the
  # default 15 minutes) make that a connection error the round sees as the region failing.
  ip netns exec "$(ns central)" sysctl -q -w net.ipv4.tcp_retries2=3

  say "link-down (a): $victim's link down before the round: the cohort cannot form, the round must abort"
  link "$victim" down
  run_rounds 1 "$work/link-a.json"
  link "$victim" up
  sleep 5
  say "link-down (b): link back up: the next round must complete with all three"
  run_rounds 1 "$work/link-b.json"

  say "link-down (c): $victim's link down once its prepare answer is in (the others still training)"
  # The other regions' links are throttled to 2 Mbit/s for this round, so the global model reaches them about a
  # second and a half later and $victim is reliably first to finish; then its link goes down before the coordinator
  # fixes the cohort and starts secure aggregation, in which $victim is a dropout.
  for region in "${regions[@]}"; do
    [ "$region" = "$victim" ] || ip netns exec "$bridge_ns" tc qdisc add dev "v-$region" root tbf rate 2mbit burst 16kb latency 30s
  done
  declare -A before
  for region in "${regions[@]}"; do before[$region]=$(prepared "$region"); done
  run_rounds 1 "$work/link-c.json" &
  runner=$!
  for _ in $(seq 3000); do [ "$(prepared "$victim")" -gt "${before[$victim]}" ] && break; sleep 0.02; done
  sleep 0.3
  others_preparing=true
  for region in "${regions[@]}"; do
    [ "$region" = "$victim" ] || [ "$(prepared "$region")" -eq "${before[$region]}" ] || others_preparing=false
  done
  link "$victim" down
  wait "$runner" || true
  link "$victim" up
  for region in "${regions[@]}"; do [ "$region" = "$victim" ] || ip netns exec "$bridge_ns" tc qdisc del dev "v-$region" root; done
  summaries+=("$work/link-a.json" "$work/link-b.json" "$work/link-c.json")
  link_down_json=$("$python" - "$victim" "$others_preparing" "$work"/link-{a,b,c}.json <<'EOF'
import json, sys
victim, others_preparing = sys.argv[1], sys.argv[2] == "true"
def one(path):
    r = json.load(open(path))["rounds"][0]
    return {"round": r["round"], "completed": r["completed"], "accuracy": r["accuracy"],
            "participants": sorted(p["region"] for p in r["participants"]),
            "failures": [{"region": f["region"], "stage": f["stage"], "code": f["code"]} for f in r["failures"]]}
a, b, c = (one(p) for p in sys.argv[3:6])
ok = (not a["completed"] and any(f["region"] == victim and f["stage"] == "prepare" for f in a["failures"])
      and b["completed"] and len(b["participants"]) == 3
      and c["completed"] and victim not in c["participants"] and len(c["participants"]) == 2
      and any(f["region"] == victim and f["stage"] != "prepare" for f in c["failures"]))
print(json.dumps({"region": victim, "beforeCohort": a, "linkBack": b, "afterCohort": c,
                  "othersStillPreparingWhenLinkWentDown": others_preparing, "passed": ok}))
EOF
)
  say "link-down test: $(echo "$link_down_json" | "$python" -c 'import json,sys; print("passed" if json.load(sys.stdin)["passed"] else "FAILED")')"
fi

# ---------------------------------------------------------------------------------------------------------------
# The proof, from the capture.
say "stopping the services and the capture"
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
pids=()
kill -INT "$tcpdump_pid" && wait "$tcpdump_pid" 2>/dev/null || true
tcpdump_pid=""
say "analysing $(stat -c %s "$work/bridge.pcap") bytes of capture"
servers=(--server "${ip[central]}:7001=verifier" --server "${ip[central]}:7002=verifier-http" --server "${ip[central]}:7003=broker"
         --server "${ip[central]}:7004=broker-http" --server "${ip[central]}:7005=aggregator")
regions_args=()
for region in "${regions[@]}"; do
  servers+=(--server "${ip[$region]}:7010=host-$region")
  regions_args+=(--region "$region:$work/$region/data/fmnist-$region.encds:$work/owner-$region/data.key")
done
"$python" "$root/scripts/multihost/analyze.py" --pcap "$work/bridge.pcap" "${servers[@]}" "${regions_args[@]}" --windows 2000 --out "$work/analysis.json"
# An independent count: the TCP conversations tshark sees and those in which it decodes a TLS ClientHello.
decode=(); for port in 7001 7002 7003 7004 7005 7010; do decode+=(-d "tcp.port==$port,tls"); done
tshark_streams=$(tshark -r "$work/bridge.pcap" -T fields -e tcp.stream -Y 'tcp.len > 0' 2>/dev/null | sort -u | wc -l)
tshark_hellos=$(tshark -r "$work/bridge.pcap" "${decode[@]}" -T fields -e tcp.stream -Y 'tls.handshake.type == 1' 2>/dev/null | sort -u | wc -l)
encds_elsewhere=$(find "$work" -name '*.encds' | grep -Ev "^$work/(eu-west|us-east|ap-south)/data/fmnist-(eu-west|us-east|ap-south)\.encds$" | wc -l || true)

# Tear down now, so the report can say that nothing is left.
for name in $(ip netns list | awk -v p="$ns_prefix-" 'index($1, p) == 1 { print $1 }'); do
  for pid in $(ip netns pids "$name" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$name"
done
left_namespaces=$(ip netns list | awk -v p="$ns_prefix-" 'index($1, p) == 1' | wc -l)
left_processes=$(pgrep -f -- "$work" | wc -l || true)

result=$("$python" - "$work/analysis.json" "$tshark_streams" "$tshark_hellos" "$encds_elsewhere" "$left_namespaces" "$left_processes" \
  "$((SECONDS - started))" "$link_down_json" "$samples" "$epochs" "${summaries[@]}" <<'EOF'
import json, sys
analysis = json.load(open(sys.argv[1]))
tshark_streams, tshark_hellos, encds_elsewhere, left_ns, left_proc, seconds = map(int, sys.argv[2:8])
link_down, samples, epochs = json.loads(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])
main_rounds = json.load(open(sys.argv[11]))["rounds"]
completed = [r for r in main_rounds if r["completed"]]
report = {
    "regions": ["eu-west", "us-east", "ap-south"],
    "rounds": len(main_rounds),
    "roundsCompletedWithAllRegions": sum(1 for r in main_rounds if r["completed"] and len(r["participants"]) == 3),
    "accuracyPerRound": [r["accuracy"] for r in main_rounds],
    "finalAccuracy": completed[-1]["accuracy"] if completed else None,
    "samplesPerRegion": samples, "epochs": epochs,
    "streams": analysis["streams"], "tlsStreams": analysis["tlsStreams"], "cleartextStreams": analysis["cleartextStreams"],
    "tls13Streams": analysis["tls13Streams"], "emptyStreams": analysis["emptyStreams"],
    "http2PrefaceFound": analysis["http2PrefaceFound"],
    "plaintextWindowsFound": analysis["plaintextWindowsFound"], "plaintextWindowsSampled": analysis["plaintextWindowsSampled"],
    "ciphertextWindowsFound": analysis["ciphertextWindowsFound"], "ciphertextWindowsSampled": analysis["ciphertextWindowsSampled"],
    "dataKeysFound": analysis["dataKeysFound"], "unexpectedServerStreams": analysis["unexpectedServerStreams"],
    "streamsWithCaptureGaps": analysis["streamsWithCaptureGaps"], "analyzerSelfTestPassed": analysis["analyzerSelfTestPassed"],
    "streamsByServer": analysis["streamsByServer"], "sni": analysis["sni"], "capturedStreamBytes": analysis["capturedStreamBytes"],
    "tsharkStreamsWithPayload": tshark_streams, "tsharkStreamsWithClientHello": tshark_hellos,
    "encryptedDatasetsOutsideTheirRegion": encds_elsewhere,
    "namespacesLeft": left_ns, "processesLeft": left_proc,
    "linkDownTest": link_down, "wallSeconds": seconds, "problems": analysis["problems"][:20],
}
report["passed"] = (report["roundsCompletedWithAllRegions"] == report["rounds"] > 0 and report["streams"] > 0
    and report["tlsStreams"] == report["streams"] == tshark_hellos and report["cleartextStreams"] == 0
    and report["http2PrefaceFound"] == 0 and report["plaintextWindowsFound"] == 0 and report["ciphertextWindowsFound"] == 0
    and report["dataKeysFound"] == 0 and report["unexpectedServerStreams"] == 0 and report["analyzerSelfTestPassed"]
    and encds_elsewhere == 0 and left_ns == 0 and left_proc == 0
    and (report["finalAccuracy"] or 0) >= 0.78 and (link_down is None or link_down["passed"]))
print(json.dumps(report, indent=2))
EOF
)
echo "$result"
[ -n "$json_out" ] && echo "$result" >"$json_out"
echo "$result" | "$python" -c 'import json,sys; r=json.load(sys.stdin); print("multihost: " + ("PASSED" if r["passed"] else "FAILED")); sys.exit(0 if r["passed"] else 1)'
