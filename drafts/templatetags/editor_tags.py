"""The editor's autosaved fields (drafts/field_html.py) in templates/drafts/draft_edit.html.

A field is two tags around the MLS's refusal of it (`{% mls_refusal %}`, the mls app's, which
drafts may not import): `editor_field_head` up to the save state, `editor_field_tail` after;
`editor_fields` writes a whole section's fields when the MLS refused nothing of the draft.
The rare parts (a conflict after a refused no-script save, a reviewer's comments) are the
template's own partials, rendered here with the page's context.
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from ..field_html import csrf_input, esc, field_head, field_rules, field_tail, readiness_checklist, save_state
from .drafts_tags import distance, pk_url, pk_url_of, plural_warning, severity_label
from .review_tags import comments_on

register = template.Library()

PAGE = "drafts/draft_edit.html"


def _partial(context: template.Context, name: str, **values) -> str:
    assert context.template is not None  # a tag renders inside a template
    partial = context.template.engine.get_template(f"{PAGE}#{name}")
    with context.push(**values):
        return partial.render(context)


@register.simple_tag(takes_context=True)
def editor_save_state(context: template.Context, f) -> SafeString:
    """The field's save state, the page's and each autosave's reply alike."""
    conflict_html = _partial(context, "save_conflict", f=f) if f.conflict else ""
    # SafeString rather than mark_safe: a str, once per field (see field_html.field_head).
    return SafeString(save_state(f, conflict_html=conflict_html))  # escaped where written


@register.simple_tag(takes_context=True)
def editor_field_rules(context: template.Context, name: str, results) -> SafeString:
    """A field's rule messages (#rules-<name>), out of band when the page's rules are re-read."""
    return mark_safe(field_rules(name, results, oob=bool(context.get("oob"))))  # noqa: S308


@register.simple_tag
def editor_readiness_checklist(report) -> SafeString:
    """The rules panel's checklist (field_html.readiness_checklist): the page's and every rules
    re-read's."""
    return mark_safe(readiness_checklist(report))  # noqa: S308 - escaped where written


@register.simple_tag(takes_context=True)
def editor_every_field_rules(context: template.Context, field_messages) -> SafeString:
    """Every field's rule messages (the rules re-read's out-of-band #rules-<name>): the
    `field_rules` partial of each, as it printed, without a template render per field (~60)."""
    oob = bool(context.get("oob"))
    return mark_safe(  # noqa: S308 - escaped where written
        "".join(f"\n\n{field_rules(name, results, oob=oob)}\n" for name, results in field_messages)
    )


@register.simple_tag(takes_context=True)
def editor_field_head(context: template.Context, f) -> SafeString:
    review = context.get("review")
    state_html = editor_save_state(context, f)
    return field_head(
        f,
        csrf_token=context.get("csrf_token"),
        has_comments=bool(comments_on(review, f.name)),
        state_html=state_html,
    )


@register.simple_tag(takes_context=True)
def editor_field_tail(context: template.Context, f) -> SafeString:
    comments = comments_on(context.get("review"), f.name)
    comments_html = _partial(context, "field_comments", f=f, field_comments=comments) if comments else ""
    return field_tail(f, oob=bool(context.get("oob")), comments_html=comments_html)


@register.simple_tag(takes_context=True)
def editor_fields(context: template.Context, fields) -> SafeString:
    """A section's fields, each with the MLS's custom-field group heading before the first of
    its group: the `field` partial of each without a template node per field (~1 ms a page)."""
    parts = []
    # The token is a lazy object: read once for the section (every field prints it), not
    # through the lazy object in each field.
    token = context.get("csrf_token")
    if token is not None and fields:
        token = str(token)
    with context.push(csrf_token=token):
        for f in fields:
            if f.group_heading:
                parts.append(f'<h3 class="field-group-heading">{esc(f.group_heading)}</h3>')
            parts.append(editor_field_head(context, f))
            parts.append(editor_field_tail(context, f))
    return mark_safe("".join(parts))  # noqa: S308 - each part is escaped where it is written


@register.simple_tag
def editor_section_links(sections) -> SafeString:
    """The links to each section (the page's "Jump to a section")."""
    return mark_safe(  # noqa: S308 - escaped where written
        "".join(
            f'<li><a href="#section-{esc(section["slug"])}">{esc(section["title"])}</a></li>'
            for section in sections
        )
    )


@register.simple_tag(takes_context=True)
def editor_sections(context: template.Context, sections) -> SafeString:
    """Every section's card with its fields (`editor_fields`), as the template's loop of them
    wrote it, whitespace and all: ~70 template nodes a section, ~1k Python calls a page."""
    cards = []
    for section in sections:
        slug, title = esc(section["slug"]), esc(section["title"])
        cards.append(
            f'\n    <section class="card editor-section" id="section-{slug}"'
            f' aria-labelledby="heading-{slug}">'
            f'\n      <h2 id="heading-{slug}">{title}</h2>'
            '\n      <div class="field-grid">'
            f"\n        \n        {editor_fields(context, section['fields'])}"
            "\n      </div>\n    </section>\n    "
        )
    return mark_safe("".join(cards))  # noqa: S308 - each part is escaped where it is written


@register.simple_tag(takes_context=True)
def editor_readiness_meter(context: template.Context) -> SafeString:
    """The `readiness_meter` partial (the page's head and side meters, the draft frame's, a rules
    re-read's out of band), as its template wrote it from the same context: ~370 Python calls a
    meter that way, two or three a page."""
    meter_id, report = context.get("meter_id"), context.get("readiness_report")
    errors, warnings = context.get("rule_errors"), context.get("rule_warnings")
    readiness = esc(context.get("readiness", ""))  # a missing variable prints nothing
    oob = ' hx-swap-oob="true"' if context.get("oob") and not meter_id else ""
    counts = ""
    if report:
        if report.gaps:
            counts = f' · <span class="text-err">{len(report.gaps)} missing</span>'
    elif errors:
        counts = f' · <span class="text-err">{esc(severity_label(errors))}</span>'
    if warnings:
        counts += f' · <span class="text-warn">{esc(plural_warning(warnings))}</span>'
    return mark_safe(  # noqa: S308 - each part is escaped where it is written
        f'\n<span class="readiness" id="readiness-{esc(meter_id or "head")}"{oob}>'
        f'\n  <meter min="0" max="100" low="60" high="99" optimum="100" value="{readiness}"'
        f' aria-label="Readiness">{readiness}%</meter>'
        f'\n  <span class="readiness-text">{readiness}% ready{counts}</span>\n</span>\n'
    )


@register.simple_tag(takes_context=True)
def editor_submit_action(context: template.Context) -> SafeString:
    """The `submit_action` partial (the rules panel's submit button, disabled while anything is
    missing), as its template wrote it from the same context."""
    draft, report = context["draft"], context.get("readiness_report")
    gaps = bool(report and report.gaps)
    blocked = ' disabled aria-describedby="submit-blocked"' if gaps else ""
    words = "Submit again for review" if draft.status == "changes_requested" else "Submit for review"
    note = (
        '<p class="subtle small" id="submit-blocked">Complete what is missing to submit it for review.</p>'
        if gaps
        else ""
    )
    return mark_safe(  # noqa: S308 - each part is escaped where it is written
        '\n\n<div class="submit-action" id="submit-action">'
        f'\n  <form method="post" action="{esc(pk_url("drafts:draft_submit", draft.pk))}">'
        f"{csrf_input(context.get('csrf_token'))}"
        f'<button class="button primary" type="submit"{blocked}>{words}</button></form>'
        f"\n  {note}\n</div>\n"
    )


@register.simple_tag
def editor_rule_warnings(warnings) -> SafeString:
    """The rules panel's warnings, each a link to its field."""
    items = []
    for result in warnings:
        field = esc(result.field)
        source = '<span class="rule-source">Our check:</span> ' if result.ours else ""
        items.append(
            f'<li class="rule rule-warning"><a href="#id_{field}" data-focus-field="id_{field}">'
            f"{source}{esc(result.message)}</a></li>"
        )
    return mark_safe("".join(items))  # noqa: S308 - each part is escaped where it is written


@register.simple_tag
def editor_nearby_items(nearby) -> SafeString:
    """The nearby drafts' items, each a link to the draft with its distance, status and listing
    agent, as the template's loop of them wrote it (~100 Python calls an item that way)."""
    edit_url = pk_url_of("drafts:draft_edit")
    return mark_safe(  # noqa: S308 - each part is escaped where it is written
        "".join(
            f'\n        <li><a href="{esc(edit_url(other.pk))}">'
            f"{esc(other.unparsed_first_line_address or 'Untitled draft')}</a>"
            f'\n          <span class="nearby-meta">{esc(distance(metres))}'
            f" · {esc(other.get_status_display())} · {esc(other.list_agent)}</span></li>\n        "
            for other, metres in nearby
        )
    )


@register.simple_tag(takes_context=True)
def editor_part_list(context: template.Context, region) -> SafeString:
    """A kind's region of rooms, units, tours or videos (templates/drafts/parts.html#part_list):
    an empty one as `part_regions` wrote it once (`PartRegion.html_for`), else the partial."""
    written = region.html_for(context.get("csrf_token"))
    if written:
        return mark_safe(written)  # noqa: S308 - the partial's own markup, escaped where written
    assert context.template is not None  # a tag renders inside a template
    partial = context.template.engine.get_template("drafts/parts.html#part_list")
    with context.push(region=region):
        return mark_safe(partial.render(context))  # noqa: S308 - a template's output
