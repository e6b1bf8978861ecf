"""Test-only ML-KEM-768 derandomised encapsulation (FIPS 203 ML-KEM.Encaps_internal), pure Python.

``cryptography`` only offers randomised encapsulation, so the X-Wing known-answer ciphertexts need this to be
reproduced. Written from FIPS 203 §4–§7; slow and not constant-time, never used by product code.
"""

from __future__ import annotations

import hashlib

Q = 3329
N = 256
K = 3
ETA1 = ETA2 = 2
DU, DV = 10, 4


def _bitrev7(i: int) -> int:
    return int(f"{i:07b}"[::-1], 2)


ZETAS = [pow(17, _bitrev7(i), Q) for i in range(128)]
GAMMAS = [pow(17, 2 * _bitrev7(i) + 1, Q) for i in range(128)]

Poly = list[int]


def _ntt(f: Poly) -> Poly:
    f = list(f)
    i = 1
    length = 128
    while length >= 2:
        for start in range(0, N, 2 * length):
            zeta = ZETAS[i]
            i += 1
            for j in range(start, start + length):
                t = zeta * f[j + length] % Q
                f[j + length] = (f[j] - t) % Q
                f[j] = (f[j] + t) % Q
        length //= 2
    return f


def _inv_ntt(f: Poly) -> Poly:
    f = list(f)
    i = 127
    length = 2
    while length <= 128:
        for start in range(0, N, 2 * length):
            zeta = ZETAS[i]
            i -= 1
            for j in range(start, start + length):
                t = f[j]
                f[j] = (t + f[j + length]) % Q
                f[j + length] = zeta * (f[j + length] - t) % Q
        length *= 2
    return [x * 3303 % Q for x in f]


def _mul_ntt(f: Poly, g: Poly) -> Poly:
    h = [0] * N
    for i in range(128):
        a0, a1, b0, b1 = f[2 * i], f[2 * i + 1], g[2 * i], g[2 * i + 1]
        h[2 * i] = (a0 * b0 + a1 * b1 * GAMMAS[i]) % Q
        h[2 * i + 1] = (a0 * b1 + a1 * b0) % Q
    return h


def _add(f: Poly, g: Poly) -> Poly:
    return [(a + b) % Q for a, b in zip(f, g, strict=True)]


def _sample_ntt(seed: bytes) -> Poly:
    stream = hashlib.shake_128(seed).digest(1344)
    out: Poly = []
    pos = 0
    while len(out) < N:
        c0, c1, c2 = stream[pos], stream[pos + 1], stream[pos + 2]
        pos += 3
        d1 = c0 + 256 * (c1 % 16)
        d2 = c1 // 16 + 16 * c2
        if d1 < Q:
            out.append(d1)
        if d2 < Q and len(out) < N:
            out.append(d2)
    return out


def _bits(data: bytes) -> list[int]:
    return [(byte >> j) & 1 for byte in data for j in range(8)]


def _cbd(data: bytes, eta: int) -> Poly:
    b = _bits(data)
    return [
        (sum(b[2 * i * eta + j] for j in range(eta)) - sum(b[2 * i * eta + eta + j] for j in range(eta))) % Q
        for i in range(N)
    ]


def _prf(eta: int, s: bytes, n: int) -> bytes:
    return hashlib.shake_256(s + bytes([n])).digest(64 * eta)


def _byte_encode(f: Poly, d: int) -> bytes:
    acc = 0
    for i, a in enumerate(f):
        acc |= (a & ((1 << d) - 1)) << (i * d)
    return acc.to_bytes(32 * d, "little")


def _byte_decode(data: bytes, d: int) -> Poly:
    acc = int.from_bytes(data, "little")
    mask = (1 << d) - 1
    return [((acc >> (i * d)) & mask) % (Q if d == 12 else 1 << d) for i in range(N)]


def _compress(x: int, d: int) -> int:
    return ((x << d) + Q // 2) // Q % (1 << d)


def _decompress(y: int, d: int) -> int:
    return (y * Q + (1 << (d - 1))) >> d


def _kpke_encrypt(ek: bytes, m: bytes, r: bytes) -> bytes:
    t_hat = [_byte_decode(ek[384 * i : 384 * (i + 1)], 12) for i in range(K)]
    rho = ek[384 * K :]
    a_hat = [[_sample_ntt(rho + bytes([j, i])) for j in range(K)] for i in range(K)]
    y = [_cbd(_prf(ETA1, r, i), ETA1) for i in range(K)]
    e1 = [_cbd(_prf(ETA2, r, K + i), ETA2) for i in range(K)]
    e2 = _cbd(_prf(ETA2, r, 2 * K), ETA2)
    y_hat = [_ntt(p) for p in y]
    u = []
    for i in range(K):
        acc = [0] * N
        for j in range(K):
            acc = _add(acc, _mul_ntt(a_hat[j][i], y_hat[j]))
        u.append(_add(_inv_ntt(acc), e1[i]))
    mu = [_decompress(bit, 1) for bit in _byte_decode(m, 1)]
    acc = [0] * N
    for j in range(K):
        acc = _add(acc, _mul_ntt(t_hat[j], y_hat[j]))
    v = _add(_add(_inv_ntt(acc), e2), mu)
    c1 = b"".join(_byte_encode([_compress(x, DU) for x in p], DU) for p in u)
    return c1 + _byte_encode([_compress(x, DV) for x in v], DV)


def encaps_internal(ek: bytes, m: bytes) -> tuple[bytes, bytes]:
    """ML-KEM-768.Encaps_internal(ek, m) -> (shared_secret, ciphertext)."""
    g = hashlib.sha3_512(m + hashlib.sha3_256(ek).digest()).digest()
    return g[:32], _kpke_encrypt(ek, m, g[32:])
