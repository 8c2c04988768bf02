#!/usr/bin/env python3
"""Compare two output trees byte for byte, normalising only what legitimately varies between
two runs of the same binary: wall-clock times and burn's random parameter ids.
usage: scripts/behaviour/compare_outputs.py A B (two trees of train_all.sh / analyze_all.sh outputs)"""
import os, re, sys, json, struct, zlib

def cbor(b, i):
    t = b[i] >> 5; a = b[i] & 31; i += 1
    if a < 24: n = a
    elif a == 24: n = b[i]; i += 1
    elif a == 25: n = struct.unpack('>H', b[i:i+2])[0]; i += 2
    elif a == 26: n = struct.unpack('>I', b[i:i+4])[0]; i += 4
    elif a == 27: n = struct.unpack('>Q', b[i:i+8])[0]; i += 8
    else: raise ValueError('cbor')
    if t in (0,): return n, i
    if t == 1: return -1 - n, i
    if t == 2: return b[i:i+n], i + n
    if t == 3: return b[i:i+n].decode(), i + n
    if t == 4:
        out = []
        for _ in range(n):
            v, i = cbor(b, i); out.append(v)
        return out, i
    if t == 5:
        out = {}
        for _ in range(n):
            k, i = cbor(b, i); v, i = cbor(b, i); out[k] = v
        return out, i
    raise ValueError('cbor type %d' % t)

def bpk(path, names=None):
    """burnpack -> {key: (dtype, shape, bytes)} with parameter ids replaced by parameter names."""
    b = open(path, 'rb').read()
    assert b[:4] == b'NRUB'
    hlen = struct.unpack('<I', b[6:10])[0]
    head, _ = cbor(b, 10)
    end = max([v['data_offsets'][1] for v in head['tensors'].values()] + [0])
    data = b[len(b) - end:]  # the data section ends the file (it starts aligned after the header)
    out = {}
    for k, v in head['tensors'].items():
        lo, hi = v['data_offsets']
        key = k
        m = re.match(r'^(\d+)\.(.*)$', k)
        if m and names is not None:
            key = names.get(int(m.group(1)), '?') + '.' + m.group(2)
        out[key] = (v['dtype'], v['shape'], data[lo:hi])
        # param_id dropped: burn draws it at random in every process
    def rename(k):
        m = re.match(r'^(\d+)(.*)$', k)
        if m and names is not None:
            return names.get(int(m.group(1)), '?') + m.group(2)
        return k
    other = {}
    for k, v in head.items():
        if k == 'tensors':
            continue
        other[k] = {rename(kk): vv for kk, vv in v.items()} if isinstance(v, dict) else v
    return out, other, {v['param_id']: k for k, v in head['tensors'].items()}

def drop_seconds(x):
    if isinstance(x, dict):
        return {k: drop_seconds(v) for k, v in x.items() if 'seconds' not in k}
    if isinstance(x, list):
        return [drop_seconds(v) for v in x]
    return x

TIME = [(re.compile(r'\d+(\.\d+)?s\b'), 'Ts'), (re.compile(r'[\d.]+% of the epoch'), 'P% of the epoch'),
        (re.compile(r'[\d.]+ batches/s'), 'R batches/s'), (re.compile(r'in [\d.]+ ?(ms|µs|s)'), 'in T')]

def text_norm(s):
    lines = [l for l in s.split('\n') if 'batches/s' not in l and 'ETA' not in l]
    s = '\n'.join(lines)
    for r, t in TIME: s = r.sub(t, s)
    return s

notes = {}
def note(kind, rel): notes.setdefault(kind, []).append(rel)

def norm(path, rel, root):
    name = os.path.basename(rel)
    raw = open(path, 'rb').read()
    if name.endswith('.crc32'):
        # a sidecar: check it against its own file in its own tree; its value is compared through
        # the file itself (which is what it checksums)
        target = path[:-6]
        body = open(target, 'rb').read()
        m = re.match(rb'crc32 ([0-9a-f]{8}) bytes (\d+)', raw)
        ok = m and int(m.group(1), 16) == zlib.crc32(body) and int(m.group(2)) == len(body)
        note('sidecar checked against its file', rel)
        return b'sidecar ok' if ok else b'SIDECAR BAD ' + raw
    if name.endswith('.bpk'):
        d = os.path.dirname(path)
        names = None
        if name == 'optim.bpk':
            _, _, names = bpk(os.path.join(d, 'model.bpk'))
        t, other, _ = bpk(path, names)
        note('burnpack: tensors by name, param ids dropped', rel)
        return repr((sorted(t.items()), json.dumps(other, sort_keys=True, default=repr))).encode()
    if name == 'manifest.json':
        j = json.loads(raw)
        def strip(x):
            if isinstance(x, dict):
                return {k: strip(v) for k, v in x.items() if not (k in ('crc32', 'bytes'))}
            if isinstance(x, list): return [strip(v) for v in x]
            return x
        note('checkpoint manifest: crc32/bytes of burnpacks dropped (files compared themselves)', rel)
        return json.dumps(strip(j), sort_keys=True).encode()
    if name.endswith('.json') and name in ('summary.json', 'state.json'):
        note('json: *seconds* keys dropped', rel)
        return json.dumps(drop_seconds(json.loads(raw)), sort_keys=True).encode()
    if rel == 'copy/report.json':
        note('copy report.json: its wall-clock "seconds" dropped', rel)
        return json.dumps(drop_seconds(json.loads(raw)), sort_keys=True).encode()
    if rel == 'copy/report.md':
        note('copy report.md: its "Took N s" normalised', rel)
        return re.sub(rb'Took [\d.]+ s\.', b'Took T s.', raw)
    if name == 'probe.jsonl':
        note('jsonl: *seconds* keys dropped', rel)
        return b'\n'.join(json.dumps(drop_seconds(json.loads(l)), sort_keys=True).encode() for l in raw.splitlines() if l.strip())
    if name == 'metrics.csv':
        rows = [l.split(',') for l in raw.decode().splitlines()]
        keep = [i for i, h in enumerate(rows[0]) if 'seconds' not in h]
        note('metrics.csv: *_seconds columns dropped', rel)
        return '\n'.join(','.join(r[i] for i in keep) for r in rows).encode()
    if name.endswith('.log') or name.endswith('.stdout'):
        note('log/console: times and progress lines normalised', rel)
        return text_norm(raw.decode(errors='replace')).encode()
    return raw

def walk(root):
    out = set()
    for dp, dn, fn in os.walk(root):
        for f in fn:
            out.add(os.path.relpath(os.path.join(dp, f), root))
    return out

a, b = sys.argv[1], sys.argv[2]
fa, fb = walk(a), walk(b)
bad = 0
for rel in sorted(fa ^ fb):
    print('ONLY IN ONE:', rel); bad += 1
same_bytes = 0
for rel in sorted(fa & fb):
    pa, pb = os.path.join(a, rel), os.path.join(b, rel)
    if open(pa, 'rb').read() == open(pb, 'rb').read():
        same_bytes += 1
        continue
    if norm(pa, rel, a) != norm(pb, rel, b):
        print('DIFFERS:', rel); bad += 1
print(f'{len(fa & fb)} files in both; {same_bytes} byte-identical; {len(fa & fb) - same_bytes - bad + len(fa ^ fb)} equal after normalisation; {bad} differ')
kinds = {}
for k, v in notes.items(): print(f'  normalised ({k}): {len(v)} files')
sys.exit(1 if bad else 0)
