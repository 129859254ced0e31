"""Plain-text tables for model test reports (JSON is ``to_dict``; HTML lives in ``bastion.model.html``)."""

from __future__ import annotations

from bastion.model.robustness import RobustnessReport


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def robustness_table(report: RobustnessReport) -> str:
    """A fixed-width table: one line per attack and budget, after the clean accuracy."""
    lines = [f"model {report.model}: {report.samples} samples, clean accuracy {report.clean_accuracy:.3f}", ""]
    header = f"{'attack':<12} {'norm':<5} {'eps':>9} {'acc. under attack':>17} {'success':>8} {'median pert.':>12} " \
             f"{'queries':>10} {'seconds':>8}"
    lines += [header, "-" * len(header)]
    for row in report.attacks:
        eps = "min-norm" if row.eps is None else _num(row.eps)
        lines.append(f"{row.name:<12} {row.norm:<5} {eps:>9} {row.accuracy_under_attack:>17.3f} "
                     f"{row.success_rate:>8.3f} {_num(row.median_perturbation):>12} {row.queries:>10,} "
                     f"{row.seconds:>8.2f}")
    lines += [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"
