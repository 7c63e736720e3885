"""A bundle's signature: who made it, not only what it holds (OpenSSF ``model-signing``, Sigstore bundle format).

The manifest's sha256 table proves that the files are the ones it lists; anyone who can edit a model can edit the
table too. :func:`sign` signs the whole bundle folder with ``model-signing`` (an elliptic-curve private key, a
signing certificate with its chain, or keyless Sigstore through OpenID Connect, e.g. GitHub Actions' ambient
identity) and writes :data:`SIGNATURE` into it; :func:`verify_signature` checks the signature and every file's
digest against what was signed and names the first file that differs.

What the signature covers: every file of the bundle, ``manifest.json`` included, except :data:`SIGNATURE` itself and
the reports written after signing (:data:`REPORTS`: parity's and drift's). A signed bundle stays signed when parity
runs: parity then writes its report files only and leaves ``manifest.json`` as signed (:func:`is_signed`).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from carspotter.util.errors import BundleError, UsageError, one_line

SIGNATURE = "carspotter.sig"
"""The signature file at the bundle's root: a Sigstore bundle (JSON) as ``model-signing`` writes it."""

REPORTS = ("parity.json", "parity.html", "drift.json", "drift.html")
"""Reports written into a bundle after signing; the signature leaves them out."""


@dataclass(frozen=True)
class SigningMethod:
    """How to sign (``carspotter sign``) or check (``carspotter verify``) a bundle: exactly one way.

    Attributes:
        private_key: PEM elliptic-curve private key (signing), with ``certificate`` for certificate signing.
        public_key: PEM public key of that private key (verifying a key signature).
        certificate: PEM signing certificate (signing with a certificate).
        chain: PEM certificates up to a root of trust (certificate signing and verifying; verifying with none uses
            the operating system's roots).
        sigstore: keyless Sigstore: sign with an OpenID Connect identity (ambient in CI), verify against
            ``identity`` and ``issuer``.
        identity, issuer: the signer's identity and OIDC issuer a Sigstore signature must show.
        password: the private key's password, if it is encrypted.
    """

    private_key: Path | None = None
    public_key: Path | None = None
    certificate: Path | None = None
    chain: tuple[Path, ...] = ()
    sigstore: bool = False
    identity: str | None = None
    issuer: str | None = None
    password: str | None = None


def _hashing():
    from model_signing import hashing

    # set_ignored_paths (relative to the bundle): the serializer's own ignore_paths are replaced when it hashes
    return (
        hashing.Config()
        .use_file_serialization(allow_symlinks=False)
        .set_ignored_paths(paths=[SIGNATURE, *REPORTS], ignore_git_paths=False)
    )


def _readable(path: Path | None, what: str) -> None:
    if path is not None and not Path(path).is_file():
        raise UsageError(f"{path}: no such {what} file")


def _signer(method: SigningMethod):
    from model_signing import signing

    config = signing.Config().set_hashing_config(_hashing())
    if method.sigstore:
        return config.use_sigstore_signer(use_ambient_credentials=True)
    if method.private_key is None:
        raise UsageError(
            "sign: give --key PRIVATE_KEY_PEM (with --certificate CERT for certificate signing) or --sigstore"
        )
    _readable(method.private_key, "private key")
    if method.certificate is not None:
        _readable(method.certificate, "certificate")
        return config.use_certificate_signer(
            private_key=method.private_key, signing_certificate=method.certificate, certificate_chain=method.chain
        )
    return config.use_elliptic_key_signer(private_key=method.private_key, password=method.password)


def sign(bundle: Path, method: SigningMethod) -> Path:
    """Sign ``bundle`` (checked first against its manifest) and write :data:`SIGNATURE` into it atomically.

    Returns:
        The signature's path.

    The caller checks the bundle against its manifest first (``verify_bundle``): sign an intact bundle only.

    Raises:
        UsageError: no signing method, or a key or certificate file that is not there.
        BundleError: ``model-signing`` failed (a wrong password, a key of another kind: its words); nothing written.
    """
    bundle = Path(bundle)
    signer = _signer(method)
    fd, tmp = tempfile.mkstemp(prefix=f".{bundle.name}.sig-", dir=bundle.resolve().parent)  # outside what is hashed
    os.close(fd)
    try:
        signer.sign(bundle, Path(tmp))
        os.replace(tmp, bundle / SIGNATURE)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise BundleError(f"{bundle}: signing failed ({one_line(exc)}); nothing was written") from None
    return bundle / SIGNATURE


def is_signed(bundle: Path) -> bool:
    """Whether ``bundle`` holds a signature (then only :data:`REPORTS` may be written into it)."""
    return (Path(bundle) / SIGNATURE).is_file()


def _verifier(method: SigningMethod):
    from model_signing import verifying

    config = verifying.Config().set_hashing_config(_hashing())
    if method.public_key is not None:
        _readable(method.public_key, "public key")
        return config.use_elliptic_key_verifier(public_key=method.public_key)
    if method.sigstore or method.identity:
        if not (method.identity and method.issuer):
            raise UsageError(
                "verify: a Sigstore signature needs --identity (the signer, e.g. the workflow's URL) "
                "and --issuer (e.g. https://token.actions.githubusercontent.com)"
            )
        return config.use_sigstore_verifier(identity=method.identity, oidc_issuer=method.issuer)
    for cert in method.chain:
        _readable(cert, "certificate")
    return config.use_certificate_verifier(certificate_chain=method.chain)


def first_difference(message: str) -> tuple[str, str] | None:
    """``(file, what happened)`` for the first file ``model-signing``'s mismatch message names: ``changed after
    signing``, ``added after signing`` or ``missing (it was signed)``; None when it names none."""
    kinds = (
        (r"Hash mismatch for '([^']+)'", "changed after signing"),
        (r"Extra files found in model '[^']*': ([^,\]'\"]+)", "added after signing"),
        (r"Missing files in model '[^']*': ([^,\]'\"]+)", "missing (it was signed)"),
    )
    message = message.replace("\\'", "'")  # the mismatch list arrives as its repr: quotes escaped
    found = [
        (m.start(), m.group(1).strip(), kind) for pattern, kind in kinds for m in [re.search(pattern, message)] if m
    ]
    return min(found)[1:] if found else None


def verify_signature(bundle: Path, method: SigningMethod) -> None:
    """Check :data:`SIGNATURE` of ``bundle`` with ``method`` and every covered file against what was signed.

    Raises:
        BundleError: no signature, a signature that does not verify (another signer, or the signature file changed),
            or a file that differs from the signed one (named: changed, added or missing).
        UsageError: no way to check given, or a key or certificate file that is not there.
    """
    bundle = Path(bundle)
    if not is_signed(bundle):
        raise BundleError(
            f"{bundle / SIGNATURE}: missing: the bundle is not signed (carspotter sign {bundle} --key KEY)"
        )
    verifier = _verifier(method)
    try:
        verifier.verify(bundle, bundle / SIGNATURE)
    except ValueError as exc:
        text = str(exc)
        first = first_difference(text)
        if first is not None:
            raise BundleError(f"{bundle / first[0]}: {first[1]}: the bundle differs from what was signed") from None
        raise BundleError(f"{bundle / SIGNATURE}: does not verify ({one_line(exc)})") from None
    except Exception as exc:  # a signature of another key, a malformed signature file
        raise BundleError(
            f"{bundle / SIGNATURE}: does not verify with the given key or certificate ({one_line(exc)})"
        ) from None
