"""Write a platform folder around its built model files: the package sources and the README, once per folder.

Export builds every format's variants first (:mod:`carspotter.export.bundle`); then each platform folder is
written here by the format that owns it, knowing the files of the formats that join it
(:attr:`~carspotter.model.format_spec.FormatSpec.joins`: Core AI's ``.aimodel`` in Core ML's Swift package). A joining
format built without its host writes its README alone, with no package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carspotter import __version__
from carspotter.contracts.bundle_facts import model_digest
from carspotter.contracts.manifest_entries import FormatEntry, VariantRecord
from carspotter.export import app_readmes
from carspotter.export.platform_package import PackageInfo, package_for
from carspotter.model.format_spec import FormatSpec


@dataclass(frozen=True)
class Built:
    """One format's built models: its manifest entry and each variant's converter facts (``extra_files``)."""

    spec: FormatSpec
    entry: FormatEntry
    facts: dict


def variants_readme(
    fmt: FormatSpec,
    records: dict[str, VariantRecord],
    default: str,
    reason: str,
    heading: str = "Variants in this folder",
) -> str:
    """The platform README's variants table: size, speed, agreement with its interval, accelerators, gate."""
    lines = [
        "",
        f"## {heading}",
        "",
        f"Default: **{default}** (`{fmt.filename}`): {reason}.",
        "",
        "| variant | file | MiB | ms / photo | top-1 / top-3 | top-1 agreement [95 % CI] | accelerators | gate |",
        "|---|---|---:|---:|---|---|---|---|",
    ]
    for name, r in records.items():
        fig = r.judged
        lo, hi = fig.intervals()["gated_agreement"]
        where = f"`{Path(r.path).name}`" if r.path else "not shipped"
        speed = f"{r.ms_per_photo:.1f}" if r.ms_per_photo is not None else "untimed"
        accel = (r.accelerators or {}).get("summary", "not checked")
        label = f"**{name}** (default)" if name == default else name
        lines.append(
            f"| {label} | {where} | {r.bytes / 2**20:.1f} | {speed} | {fig.top1:.1%} / {fig.top3:.1%} | "
            f"{fig.gated_agreement:.1%} [{lo:.1%}, {hi:.1%}] | {accel} | "
            f"{'passed' if r.gate_passed else 'FAILED'}: {r.gate} |"
        )
    first = next(iter(records.values()))
    counts = sorted({r.gate_figures.photos for r in records.values() if r.gate_figures})
    where = (
        f"the run's labelled photos ({', '.join(map(str, counts))} photos: a calibrated variant's gate leaves out "
        "the representative photos it read)"
        if counts
        else f"the run's {first.figures.photos} test photos"
    )
    lines += [
        "",
        f"Measured on {where} at export; ms / photo on this machine's CPU with {fmt.execution.measuring_runtime.target} "
        "(untimed: an emulation, not the device). Agreement counts a top-1 that differs only by a near-tie as "
        "agreeing, as parity does; each gate is a bound on a 95 % interval (docs/bundles-and-apps.md, Gates).",
    ]
    uses = [f"- **{n}**: {fmt.variant(n).use}" for n in records if fmt.variant(n).use]
    return "\n".join(lines + ([""] + uses if uses else [])) + "\n"


def _others(built: Built) -> tuple[str, ...]:
    """The shipped files of a format other than its default (and their extra files)."""
    fmt, entry = built.spec, built.entry
    return tuple(
        f
        for n, r in entry.variants.items()
        if r.shipped and n != entry.default_variant
        for f in (fmt.file_name(n, default=False), *built.facts[n].get("extra_files", ()))
    )


def package_info(built: Built, joined: list[Built], folder: Path, inputs) -> PackageInfo:
    """The facts a platform package is generated from (:mod:`carspotter.export.app_packages`), with the default files
    of the formats that join it (``joined_model``) and their other files among ``others``."""
    fmt, conf = built.spec, inputs.run.confidence
    models = folder / fmt.shipping.models_dir(inputs.bundle_name)
    guest = joined[0] if joined else None
    return PackageInfo(
        name=inputs.bundle_name,
        version=__version__,
        labels=tuple(inputs.run.labels),
        size=inputs.run.input.size,
        threshold=conf.threshold if conf else None,
        not_a_car=conf.negative_class if conf else None,
        model=fmt.filename,
        others=_others(built) + sum((_others(j) for j in joined), ()),
        model_sha256=model_digest(models / fmt.filename),
        golden=inputs.options.golden > 0,
        deployment_target=fmt.conversion.deployment_target,
        joined_model=guest.spec.filename if guest else None,
        options=inputs.options.converter_options,
        joined_sha256=model_digest(models / guest.spec.filename) if guest else None,
    )


def _readme(readme, model_file: str, inputs) -> str:
    """A platform README's start; with the bundle's name where the writer takes one (the Swift package's ``import``
    names its module after the bundle)."""
    import inspect

    extra = {"bundle": inputs.bundle_name} if "bundle" in inspect.signature(readme).parameters else {}
    return readme(model_file, inputs.run.input, len(inputs.run.labels), **extra)


def _hosts(built: dict[str, Built]):
    """``(name, built, formats joining it)`` of every format that owns its platform folder."""
    for name, b in built.items():
        if not (b.spec.joins and b.spec.joins in built):
            yield name, b, [j for j in built.values() if j.spec.joins == name]


def write_packages(root: Path, built: dict[str, Built], inputs) -> None:
    """Write every platform folder's package under ``root`` (the owner's, knowing the files that join it)."""
    for name, b, joined in _hosts(built):
        folder = root / b.spec.platform
        platform = package_for(name)
        if platform.package is not None and not b.spec.joins:
            platform.package(folder, package_info(b, joined, folder, inputs))


def write_readmes(root: Path, built: dict[str, Built], inputs, measured: list[dict] | None) -> None:
    """Write every platform folder's README once: the owner's start, confidence, region of interest, variants, each
    joining format's section and variants, the self-test, and the resize table of the app paths ``measured``."""
    for name, b, joined in _hosts(built):
        text = _readme(package_for(name).readme, b.spec.filename, inputs)
        text += app_readmes.confidence_section(b.spec, inputs.run.confidence)
        text += app_readmes.roi_section(b.spec)
        text += variants_readme(b.spec, b.entry.variants, b.entry.default_variant, b.entry.default_reason)
        for j in joined:
            text += _readme(package_for(j.spec.name).readme, j.spec.filename, inputs)
            text += variants_readme(
                j.spec,
                j.entry.variants,
                j.entry.default_variant,
                j.entry.default_reason,
                f"{j.spec.title} variants in this folder",
            )
        if inputs.options.golden:
            text += app_readmes.selftest_section(b.spec)
        text += app_readmes.resize_section(b.spec, measured, len(inputs.photos.names))
        (root / b.spec.platform / "README.md").write_text(text, encoding="utf-8")
