#!/usr/bin/env bash
# Regenerates the seed corpora (fuzz/corpus/TARGET/seed-*) from the known-answer encodings in
# tests/data/encodings, operation sequences for the stateful targets, and (with
# --with-openssl) an OpenSSL-made RSA key and signatures. Run from fuzz/.
set -euo pipefail
cd "$(dirname "$0")"
KAT=../tests/data/encodings
seed() { # target name < bytes
    mkdir -p "corpus/$1"
    cat >"corpus/$1/seed-$2"
}
unhex() { xxd -r -p "$1"; }
for t in registration_challenge registration_request registration_secret registration_result \
    signing_request sealed_partial_signature partial_signature server_share; do
    unhex "$KAT/$t.hex" | seed "decode_$t" kat
done
unhex "$KAT/signing_request_pss.hex" | seed decode_signing_request pss
for s in registration signing; do
    unhex "$KAT/sealed_response_$s.hex" | seed decode_sealed_response "$s"
done
for s in completed wrong_pin not_pending locked destroyed expired clone_detected stale_record; do
    unhex "$KAT/signing_answer_$s.hex" | seed decode_signing_answer "$s"
done
for s in active locked destroyed; do
    unhex "$KAT/server_record_$s.hex" | seed decode_server_record "$s"
done
unhex "$KAT/device_record.hex" | seed decode_device_record kat
unhex "$KAT/device_record_pending.hex" | seed decode_device_record pending
# The sealed share's known answer belongs to the Argon2i change (SPEC §5); seeded from it as it is.
unhex "$KAT/sealed_share.hex" | seed decode_sealed_share kat

# server_partial: mode byte, then the mode's payload (see the target's docs).
head -c 128 /dev/zero | { printf '\x02'; cat; } | seed server_partial current-otp-zero-y
head -c 160 /dev/urandom | { printf '\x82'; cat; } | seed server_partial random-otp
{ printf 'SRSA\x02\x06'; head -c 32 /dev/zero; printf '\x00\x80'; head -c 128 /dev/urandom; } |
    { printf '\x01'; cat; } | seed server_partial sealed-plaintext
{ printf '\x00'; unhex "$KAT/sealed_partial_signature.hex" | dd bs=1 skip=70 count=32 status=none
  unhex "$KAT/sealed_partial_signature.hex" | dd bs=1 skip=106 status=none; } | seed server_partial raw-sealed

# session: operations, one byte each plus operands (see the target's docs): 0 create, 1 sign
# (right PIN), 2 sign (wrong PIN), 3 deliver, 5 accept, 6 corrupt an answer, 7 crash, 8 resend,
# 9 attacker copies the record, 10 attacker acts, 11 store fault (operand >= 0x80) or
# 6·operand² seconds pass.
ops() { printf "$(printf '\\x%02x' "$@")"; }
ops 0 0 1 0 3 0 5 0 | seed session honest-signature
ops 0 1 1 0 3 0 7 8 5 1 0 0 1 1 3 1 5 2 | seed session lost-answer-crash-resend
ops 0 0 1 0 11 129 3 0 8 5 0 | seed session store-fault-then-resend
ops 0 0 1 0 11 129 3 0 0 2 8 5 0 1 1 3 1 5 1 | seed session orphaned-charge
ops 0 2 2 0 3 0 5 0 2 0 3 1 5 1 2 0 3 2 5 2 11 100 0 0 1 1 3 3 5 3 | seed session wrong-pins-lock
ops 0 0 1 0 3 0 6 0 1 5 0 4 0 | seed session corrupt-duplicate
ops 0 0 9 10 0 10 0 10 0 10 0 10 0 10 0 10 0 10 0 10 0 10 0 | seed session attacker
ops 0 0 1 0 9 3 0 10 5 0 0 0 1 1 3 1 5 1 | seed session attacker-copy-pending
ops 0 0 9 10 0 10 0 10 0 11 50 0 0 10 1 10 1 10 1 11 127 0 0 10 2 10 2 10 2 | seed session attacker-destroys
ops 0 0 2 0 11 129 3 0 8 5 0 2 0 3 1 5 1 1 0 3 2 5 2 | seed session wrong-pin-store-fault

if [ "${1:-}" != --with-openssl ]; then echo "seeds written (public-key and verify seeds kept; --with-openssl remakes them)"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/k.pem" 2>/dev/null
openssl rsa -in "$tmp/k.pem" -RSAPublicKey_out -outform DER -out "$tmp/pkcs1.der" 2>/dev/null
openssl pkey -in "$tmp/k.pem" -pubout -outform DER -out "$tmp/spki.der"
openssl rsa -in "$tmp/k.pem" -RSAPublicKey_out -out "$tmp/pkcs1.pem" 2>/dev/null
openssl pkey -in "$tmp/k.pem" -pubout -out "$tmp/spki.pem"
openssl rsa -in "$tmp/k.pem" -noout -modulus | sed 's/^Modulus=//' | xxd -r -p >"$tmp/n.bin"
i=0
for f in pkcs1.der spki.der pkcs1.pem spki.pem n.bin; do
    { printf "\\x$(printf %02x $i)"; cat "$tmp/$f"; } | seed decode_public_key "$f"
    i=$((i + 1))
done

printf 'split-rsa fuzz seed' >"$tmp/msg"
openssl dgst -sha256 -binary "$tmp/msg" >"$tmp/digest"
openssl dgst -sha256 -sign "$tmp/k.pem" -out "$tmp/sig-pkcs1" "$tmp/msg"
openssl dgst -sha256 -sign "$tmp/k.pem" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -out "$tmp/sig-pss" "$tmp/msg"
# verify input: selector (format | scheme << 3), 2-byte key length, key, digest, signature.
verify_seed() { # selector keyfile sigfile name
    local len
    len=$(stat -c %s "$2")
    { printf "\\x$(printf %02x "$1")\\x$(printf %02x $((len >> 8)))\\x$(printf %02x $((len & 255)))"
      cat "$2" "$tmp/digest" "$3"; } | seed verify "$4"
}
verify_seed 0 "$tmp/pkcs1.der" "$tmp/sig-pkcs1" pkcs1-der-pkcs1v15
verify_seed 1 "$tmp/spki.der" "$tmp/sig-pkcs1" spki-der-pkcs1v15
verify_seed $((2 | 3 << 3)) "$tmp/pkcs1.pem" "$tmp/sig-pss" pkcs1-pem-pss
verify_seed $((3 | 3 << 3)) "$tmp/spki.pem" "$tmp/sig-pss" spki-pem-pss
verify_seed 4 "$tmp/n.bin" "$tmp/sig-pkcs1" modulus-pkcs1v15

echo "seeds written"
