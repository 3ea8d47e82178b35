#!/usr/bin/env python3
"""Reads every keyledger events topic on a broker with kcat, as an outside consumer would,
and checks the contract of docs/events/: each record's key and CloudEvents headers, its
envelope and data against the JSON Schemas, each dashboard's hash chain and sequence, and
that no record holds a secret (anything shaped like a keyledger key with a valid checksum,
or one of the test suite's passwords).

usage: check_event_stream.py BOOTSTRAP SCHEMA_DIR TOPIC_PREFIX [--require-all-types]
       check_event_stream.py --kcat-json FILE SCHEMA_DIR   (records as `kcat -J` prints them)
"""
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import zlib

import jsonschema

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_SHAPE = re.compile(r"kl[ewsr]_[0-9A-Za-z]{36}")
TEST_PASSWORDS = ["admin password one", "developer password two", "viewer password three",
                  "correct horse battery staple", "a wrong password typed"]


def is_real_key(text):
    """A keyledger key's last 6 characters are base62 of CRC32 over the rest (SPEC §4)."""
    crc = zlib.crc32(text[:-6].encode())
    digits = ""
    for _ in range(6):
        digits = BASE62[crc % 62] + digits
        crc //= 62
    return digits == text[-6:]


def canonical(envelope):
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def committed(value):
    """Hash version 2's committed form of `data`: each password_hash and ciphertext replaced by
    <name>_sha256, the hex SHA-256 of its text (docs/events/README.md)."""
    if isinstance(value, list):
        return [committed(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for name, v in value.items():
        if name in ("password_hash", "ciphertext") and isinstance(v, str):
            out[name + "_sha256"] = hashlib.sha256(v.encode()).hexdigest()
        else:
            out[name] = committed(v)
    return out


def murmur2(data):
    """Kafka's partitioner hash (Java clients, librdkafka's murmur2_random), as a signed 32-bit int."""
    m, h = 0x5bd1e995, (0x9747b28c ^ len(data)) & 0xffffffff
    whole = len(data) & ~3
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xffffffff
        k ^= k >> 24
        k = (k * m) & 0xffffffff
        h = ((h * m) & 0xffffffff) ^ k
    rest = data[whole:]
    if rest:
        for i in reversed(range(len(rest))):
            h ^= rest[i] << (8 * i)
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


# Values org.apache.kafka.common.utils.Utils.murmur2 (kafka-clients 4.1.1) gives.
assert murmur2(b"21") == -973932308 and murmur2(b"keyledger") == -2098327669 and murmur2(b"abc") == 479470107


def kcat_records(bootstrap, prefix, suffix=None):
    """Every committed record of every events topic named PREFIX* (not the keyring's topics,
    nor a cluster's owners or numbers topics: docs/cluster.md), or of every topic named
    PREFIX*SUFFIX, as kcat -J prints them."""
    listing = json.loads(subprocess.run(["kcat", "-b", bootstrap, "-L", "-J"], check=True,
                                        capture_output=True, text=True).stdout)
    wanted = (lambda name: name.endswith(suffix)) if suffix else \
        (lambda name: not name.endswith(("-keyring", "-owners", "-numbers")))
    topics = sorted((t["topic"], len(t["partitions"])) for t in listing["topics"]
                    if t["topic"].startswith(prefix) and wanted(t["topic"]))
    # Each kcat takes about a second however little it reads: sixteen at a time.
    def read(topic):
        return subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-e", "-q", "-J",
                               "-X", "isolation.level=read_committed"],
                              check=True, capture_output=True, text=True).stdout
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        outputs = pool.map(read, [topic for topic, _ in topics])
        for (topic, partitions), out in zip(topics, outputs):
            yield topic, out.splitlines(), partitions


def messages(topic, lines):
    """Each record kcat -J printed, with where it is (topic[partition]@offset)."""
    for line in lines:
        if line.strip():
            message = json.loads(line)
            yield f"{topic}[{message['partition']}]@{message['offset']}", message


def check_reservations(sources, validator):
    """A cluster's number reservations: each record valid, keyed by its number, in the
    number's murmur2 partition. Returns (records, problems)."""
    count, problems = 0, []
    for topic, lines, partitions in sources:
        for where, message in messages(topic, lines):
            count += 1
            try:
                record = json.loads(message["payload"] or "")
            except ValueError:
                problems.append(f"{where}: the value is not JSON")
                continue
            for error in validator.iter_errors(record):
                problems.append(f"{where}: {error.message}")
            if not isinstance(record, dict) or message.get("key") != record.get("number"):
                problems.append(f"{where}: message key is not the number")
            elif message["partition"] != (murmur2(message["key"].encode()) & 0x7fffffff) % partitions:
                problems.append(f"{where}: not in the number's partition (murmur2)")
    return count, problems


def main():
    if sys.argv[1] == "--kcat-json":
        with open(sys.argv[2]) as f:
            sources = [("file", f.read().splitlines(), None)]
        schema_dir, require_all = sys.argv[3], False
    else:
        bootstrap, schema_dir, prefix = sys.argv[1:4]
        require_all = "--require-all-types" in sys.argv
        sources = kcat_records(bootstrap, prefix)
    schemas = {}
    for name in os.listdir(schema_dir):
        if name.endswith(".schema.json"):
            with open(os.path.join(schema_dir, name)) as f:
                schema = json.load(f)
            schemas[name] = schema
    store = {s["$id"]: s for s in schemas.values()}
    def validator(name):
        schema = schemas[name]
        resolver = jsonschema.RefResolver(base_uri=schema["$id"], referrer=schema, store=store)
        return jsonschema.Draft202012Validator(schema, resolver=resolver)
    envelope_validator = validator("envelope.schema.json")
    data_validators = {n[:-len(".schema.json")]: validator(n) for n in schemas
                       if n not in ("envelope.schema.json", "sealed-secret.schema.json",
                                    "number-reservation.schema.json")}

    problems, seen_types, count, topics = [], set(), 0, 0
    for topic, lines, partitions in sources:
        topics += 1
        heads = {}
        for where, message in messages(topic, lines):
            count += 1
            raw = message["payload"] or ""
            headers = dict(zip(message["headers"][0::2], message["headers"][1::2])) if message.get("headers") else {}
            for secret in KEY_SHAPE.findall(raw + json.dumps(headers)):
                if is_real_key(secret):
                    problems.append(f"{where}: holds a plaintext keyledger key")
            for password in TEST_PASSWORDS:
                if password in raw:
                    problems.append(f"{where}: holds a plaintext password")
            try:
                envelope = json.loads(raw)
            except ValueError:
                problems.append(f"{where}: the value is not JSON")
                continue
            for error in envelope_validator.iter_errors(envelope):
                problems.append(f"{where}: envelope: {error.message}")
            kind = envelope.get("type", "")
            seen_types.add("Denied" if kind.endswith("Denied") else kind)
            data_validator = data_validators.get("Denied" if kind.endswith("Denied") else kind)
            if data_validator is None:
                problems.append(f"{where}: no schema for event type {kind}")
            else:
                for error in data_validator.iter_errors(envelope.get("data")):
                    problems.append(f"{where}: {kind}.data: {error.message}")
            expected_headers = {"ce_specversion": "1.0", "ce_id": envelope.get("id"), "ce_type": kind,
                                "ce_source": f"/keyledger/dashboards/{envelope.get('dashboard_id')}",
                                "ce_time": envelope.get("occurred_at"), "content-type": "application/json"}
            for name, value in expected_headers.items():
                if headers.get(name) != value:
                    problems.append(f"{where}: header {name} is {headers.get(name)!r}, expected {value!r}")
            if message.get("key") != envelope.get("dashboard_id"):
                problems.append(f"{where}: message key is not the dashboard id")
            elif partitions and message["partition"] != (murmur2(message["key"].encode()) & 0x7fffffff) % partitions:
                problems.append(f"{where}: not in the partition Kafka's clients give its key (murmur2)")
            dashboard = envelope.get("dashboard_id")
            prev_hash, prev_sequence = heads.get(dashboard, ("0" * 64, 0))
            if envelope.get("prev_hash") != prev_hash or envelope.get("sequence") != prev_sequence + 1:
                problems.append(f"{where}: breaks the hash chain or sequence of dashboard {dashboard}")
            content = dict(envelope)
            recorded = content.pop("hash", None)
            # Hash version 2 covers the committed form; 1 (no hash_version: topics written
            # before it) the envelope as stored.
            if content.get("hash_version") == 2:
                content["data"] = committed(content.get("data"))
            if hashlib.sha256(canonical(content).encode()).hexdigest() != recorded:
                problems.append(f"{where}: hash does not match the envelope's content")
            heads[dashboard] = (recorded, envelope.get("sequence"))
    print(f"checked {count} events in {topics} topics; event types seen: {len(seen_types)}")
    if count == 0:
        problems.append("no events found: the end-to-end suite produced none on this broker")
    if sys.argv[1] != "--kcat-json":
        reservations, reservation_problems = check_reservations(
            kcat_records(bootstrap, prefix, "-numbers"), validator("number-reservation.schema.json"))
        print(f"checked {reservations} number reservation records")
        problems += reservation_problems
        if require_all and reservations == 0:
            problems.append("no number reservation records found: the cluster suite produced none on this broker")
    if require_all:
        missing = sorted(set(data_validators) - seen_types)
        if missing:
            problems.append("event types with a schema that the suite never produced: " + ", ".join(missing))
    for p in problems[:50]:
        print("FAIL", p)
    if problems:
        print(f"{len(problems)} problems")
        return 1
    print("event stream contract: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
