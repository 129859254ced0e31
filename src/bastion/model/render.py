"""Plain-text tables for model test reports (JSON is ``to_dict``; HTML lives in ``bastion.model.html``)."""

from __future__ import annotations

from bastion.model.poisoning.audit import PoisoningReport
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


def poisoning_table(report: PoisoningReport, limit: int = 50) -> str:
    """Label issues and backdoor suspects, most suspect first (``limit`` lines each; JSON has them all)."""
    lines = [f"model {report.model}: {report.samples} rows", "",
             f"label issues: {len(report.label_issues)}"]
    if report.label_issues:
        lines.append(f"{'row':>8} {'given':>12} {'suggested':>12} {'score':>7}")
        lines += [f"{i.row:>8} {str(i.given):>12} {str(i.suggested):>12} {i.score:>7.3f}"
                  for i in report.label_issues[:limit]]
        if len(report.label_issues) > limit:
            lines.append(f"... {len(report.label_issues) - limit} more (see --format json)")
    backdoor = report.backdoor
    if backdoor is not None:
        scores = ", ".join(f"{label}: {score:.2f}" for label, score in backdoor.class_scores.items())
        verdict = "none" if backdoor.suspected_class is None else repr(backdoor.suspected_class)
        lines += ["", f"backdoor: suspected class {verdict} (layers {', '.join(backdoor.layers)})",
                  f"class scores: {scores}", f"suspect rows: {len(backdoor.suspects)}"]
        lines += [f"{row:>8} {score:>7.3f}" for row, score in backdoor.suspects[:limit]]
    lines += [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"
