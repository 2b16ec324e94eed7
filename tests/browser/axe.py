"""axe-core (vendored in tests/browser/vendor/, MPL-2.0) run in a Playwright page.

    violations = axe_violations(page)            # serious and critical ones
    assert violations == [], describe_violations(violations)

The page's CSP allows only nonce'd scripts, so a `<script>` tag added by the test (Playwright's
`add_script_tag`) would be refused and reported as a CSP violation. `page.evaluate` runs in
the page's main world through the DevTools protocol, which the CSP does not govern: axe is
loaded that way, once per document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

AXE_VERSION = "4.14.1"
AXE_SOURCE = Path(__file__).parent / "vendor" / f"axe-core-{AXE_VERSION}.min.js"

# WCAG 2.1 A and AA plus axe's best practices: what an accessible portal is held to.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

_RUN = """async ([tags, impacts]) => {
  const options = {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]};
  const result = await window.axe.run(document, options);
  return result.violations
    .filter((violation) => impacts.includes(violation.impact))
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => ({
        target: node.target.join(" "),
        summary: node.failureSummary || "",
      })),
    }));
}"""


@dataclass(frozen=True)
class AxeNode:
    target: str
    summary: str


@dataclass(frozen=True)
class AxeViolation:
    id: str
    impact: str
    help: str
    nodes: list[AxeNode] = field(default_factory=list)

    def __str__(self) -> str:
        where = ", ".join(node.target for node in self.nodes[:5])
        more = f" and {len(self.nodes) - 5} more" if len(self.nodes) > 5 else ""
        return f"{self.id} ({self.impact}): {self.help} [{where}{more}]"


_source: str | None = None


def _axe_source() -> str:
    global _source
    if _source is None:
        _source = AXE_SOURCE.read_text(encoding="utf-8")
    return _source


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[AxeViolation]:
    """The page's axe-core violations of these impacts, each with the nodes it names."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(_axe_source())
    found = page.evaluate(_RUN, [AXE_TAGS, list(impacts)])
    return [
        AxeViolation(
            id=item["id"],
            impact=item["impact"],
            help=item["help"],
            nodes=[AxeNode(node["target"], node["summary"]) for node in item["nodes"]],
        )
        for item in found
    ]


def describe_violations(violations: list[AxeViolation]) -> str:
    return "\n".join(str(violation) for violation in violations)
