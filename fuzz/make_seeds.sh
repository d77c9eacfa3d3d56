#!/usr/bin/env bash
# Regenerates the seed corpora (fuzz/corpus/TARGET/seed-*) from the known-answer encodings in
# tests/data/encodings and from an OpenSSL-made RSA key and signatures. Run from fuzz/.
set -euo pipefail
cd "$(dirname "$0")"
KAT=../tests/data/encodings
seed() { # target name < bytes
    mkdir -p "corpus/$1"
    cat >"corpus/$1/seed-$2"
}
unhex() { xxd -r -p "$1"; }
for t in registration_request registration_response signing_request sealed_partial_signature \
    signing_response partial_signature registration_secret sealed_share device_record; do
    unhex "$KAT/$t.hex" | seed "decode_$t" kat
done
for s in active locked destroyed; do
    unhex "$KAT/server_record_$s.hex" | seed decode_server_record "$s"
done

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

# server_partial: mode byte, then the mode's payload (see the target's docs).
head -c 96 /dev/zero | { printf '\x02'; cat; } | seed server_partial current-otp-zero-y
head -c 96 /dev/urandom | { printf '\x82'; cat; } | seed server_partial random-otp
{ printf '\x01SRSA\x01\x06'; head -c 32 /dev/zero; printf '\x00\x40'; head -c 64 /dev/urandom; } |
    seed server_partial sealed-plaintext
unhex "$KAT/sealed_partial_signature.hex" | tail -c +39 | { printf '\x00'; cat; } |
    seed server_partial raw-sealed
echo "seeds written"
