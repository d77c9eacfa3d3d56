#!/usr/bin/env python3
"""Refreshes the worked examples in docs/encodings.md from the known-answer files.

Every block in the document that starts with a line "`NAME.hex` (N bytes):" followed by a
table is regenerated from tests/data/encodings/NAME.hex (offsets, widths, field names and
example bytes); the prose around the tables is left alone. Encodings this script does not know
(the sealed share, type 10, owned by its own change) are left as they are.
`tests/encodings.rs` (documented_examples_match_the_known_answers) checks the result.

    python3 tests/data/encodings/refresh_docs.py
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..')
KAT = os.path.join(ROOT, 'tests', 'data', 'encodings')
DOC = os.path.join(ROOT, 'docs', 'encodings.md')

def load(n): return bytes.fromhex(open(os.path.join(KAT, n + '.hex')).read().strip())

def fmt(v):
    if len(v) > 32:
        return f'`{v[:8].hex()}…{v[-4:].hex()}` ({len(v)} bytes)'
    return f'`{v.hex()}`'

class P:
    def __init__(s, b): s.b=b; s.at=0; s.rows=[]
    def f(s, n, name, note=''):
        v = s.b[s.at:s.at+n]
        assert len(v)==n, (name, s.at, n, len(s.b))
        ex = fmt(v)
        if note == 'int' and n in (1,2,4,8):
            ex += f' = {int.from_bytes(v, "big")}'
        elif note:
            ex += f' {note}'
        s.rows.append((s.at, n, name, ex)); s.at += n
        return v
    def u(s, n, name, note='int'):
        return int.from_bytes(s.f(n, name, note), 'big')
    def header(s):
        s.f(4, 'magic "SRSA"'); s.f(1, 'version'); s.f(1, 'type')
    def table(s):
        assert s.at == len(s.b), (s.at, len(s.b))
        out = ['| offset | width | field | example |', '|---:|---:|---|---|']
        for o,n,name,ex in s.rows:
            out.append(f'| {o} | {n} | {name} | {ex} |')
        return '\n'.join(out)

def challenge(p, pre=''):
    p.f(16, pre+'challenge'); p.u(8, pre+'expires_at'); p.f(32, pre+'tag')

def half(p, name):
    l = p.u(2, f'len({name})'); p.f(l, name); return l

OUT = ['registered','completed','wrong_pin','not_pending','locked','destroyed','expired','clone_detected','stale_record']
def outcome(p, pre=''):
    t = p.u(1, pre+'outcome')
    if t == 1:
        l = p.u(4, pre+'len(signature)'); p.f(l, pre+'signature')
    elif t == 2:
        p.u(4, pre+'attempts_left')
        if p.u(1, pre+'locked_until flag'): p.u(8, pre+'locked_until')
    elif t == 4:
        if p.u(1, pre+'until flag'): p.u(8, pre+'until')
    return t

def parse(name, b):
    p = P(b); p.header()
    if name == 'registration_challenge': challenge(p)
    elif name == 'registration_request':
        challenge(p); p.u(1,'purpose'); half(p,'n1'); p.f(32,'sealed.enc'); l=p.u(4,'len(sealed.ciphertext)'); p.f(l,'sealed.ciphertext')
    elif name == 'registration_secret':
        bits = p.u(2,'size (bits of n1)'); p.f(bits//8,'n1'); p.f(bits//8,"d1''")
    elif name == 'registration_result':
        p.f(16,'key_id'); half(p,'n2'); p.f(32,'otp (OTP_0)')
    elif name.startswith('sealed_response'):
        p.u(1,'kind'); p.f(16,'key_id'); p.f(16,'request_id'); l=p.u(4,'len(sealed)'); p.f(12,'sealed: nonce'); p.f(l-28,'sealed: ciphertext'); p.f(16,'sealed: tag')
    elif name.startswith('signing_answer'):
        if outcome(p) == 1: p.f(32,'next_otp')
    elif name.startswith('signing_request'):
        p.f(16,'key_id'); p.f(16,'request_id'); p.u(1,'purpose'); p.u(1,'scheme'); p.u(1,'hash')
        l=p.u(4,'len(digest)'); p.f(l,'digest'); l=p.u(4,'len(pss_salt)'); p.f(l,'pss_salt'); p.u(8,'expires_at')
    elif name == 'sealed_partial_signature':
        p.f(16,'key_id'); p.f(16,'request_id'); p.f(32,'request_hash'); p.f(32,'sealed.enc'); l=p.u(4,'len(sealed.ciphertext)'); p.f(l,'sealed.ciphertext')
    elif name == 'partial_signature':
        p.f(32,'otp'); l=p.u(2,'len(y)'); p.f(l,'y')
    elif name == 'server_share':
        k1=half(p,'share.n1'); k2=half(p,'share.n2'); p.f(k1+k2,'share.n'); p.f(k1,"share.d1''")
        for f in ['share.p2','share.q2','share.qinv']: p.f(k2//2,f)
        p.f(k2,'share.n1_inv'); p.f(k2//2,'share.dp'); p.f(k2//2,'share.dq')
    elif name.startswith('server_record'):
        p.f(16,'key_id'); p.u(1,'purpose'); p.f(32,'n1_hash'); p.u(8,'created_at'); p.u(8,'expires_at')
        st = p.u(1,'state')
        if st == 2:
            p.u(1,'destroyed.reason'); p.u(8,'destroyed.at')
        else:
            l=p.u(2,'len(n)'); p.f(l,'n'); p.u(4,'failures')
            if p.u(1,'locked_until flag'): p.u(8,'locked_until')
            p.f(32,'otp_current (SHA-256)')
            if p.u(1,'otp_previous flag'): p.f(32,'otp_previous (SHA-256)')
            if p.u(1,'pending flag'):
                l=p.u(4,'len(pending.request)'); p.f(l,'pending.request (a `03` encoding)')
                n=p.u(1,'pending.tried count')
                for i in range(n): p.f(32,f'pending.tried[{i}]')
            n=p.u(1,'unresolved count')
            for i in range(n):
                p.f(32,f'unresolved[{i}].message_hash')
                l=p.u(4,f'len(unresolved[{i}].request)'); p.f(l,f'unresolved[{i}].request (a `03` encoding)')
            for a in ['last','completed']:
                if p.u(1,f'{a} flag'):
                    p.f(32,f'{a}.message_hash')
                    if p.b[p.at] == 0: p.u(1,f'{a}.summary (registered)')
                    else: outcome(p, a+'.')
                    l=p.u(4,f'len({a}.response)'); p.f(l,f'{a}.response (a `09` encoding)')
            p.u(4,'share.kek'); p.f(24,'share.nonce'); l=p.u(4,'len(share.ciphertext)'); p.f(l,'share.ciphertext')
    elif name.startswith('device_record'):
        p.f(16,'key_id'); p.u(1,'purpose'); half(p,'n1'); half(p,'n2')
        # sealed share body: find the status/pending bytes.
        b=p.b; start=p.at
        if name == 'device_record':
            sk = len(b)-2-32-32
        else:
            i = b.find(b'SRSA\x02\x03'); sk = i-6-32-32
        p.f(sk-start, 'sealed_share (the `10` body, being updated)')
        p.f(32,'otp'); p.f(32,'server_key'); p.u(1,'status')
        if p.u(1,'pending flag'):
            l=p.u(4,'len(pending.request)'); p.f(l,'pending.request (a `03` encoding)')
            l=p.u(4,'len(pending.message)'); p.f(l,'pending.message (a `04` encoding)')
            p.f(32,'pending.response_key')
            if p.u(1,'pending.new_seal flag'): raise Exception('new seal')
    else:
        raise Exception(name)
    return p



def refresh(text):
    lines = text.split('\n')
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        m = re.fullmatch(r'`(\w+)\.hex` \((\d+) bytes\):', line)
        if not m:
            out.append(line)
            i += 1
            continue
        name = m.group(1)
        b = load(name)
        try:
            p = parse(name, b)
        except Exception:  # an encoding this script does not know: leave the block alone
            out.append(line)
            i += 1
            continue
        out.append(f'`{name}.hex` ({len(b)} bytes):')
        out.append('')
        out.extend(p.table().split('\n'))
        # Skip the old block: the blank line and the table rows.
        i += 1
        while i < len(lines) and lines[i] == '':
            i += 1
        while i < len(lines) and lines[i].startswith('|'):
            i += 1
    return '\n'.join(out)


if __name__ == '__main__':
    with open(DOC) as f:
        text = f.read()
    new = refresh(text)
    with open(DOC, 'w') as f:
        f.write(new)
    print('docs/encodings.md refreshed' + ('' if new != text else ' (unchanged)'))
