"""A journey report as a PDF: typst (one wheel, its own fonts) lays it out, right-to-left languages included.

The report's content goes in as data (`sys.inputs`, decoded as JSON inside the template) and is set as plain
text, never as markup: what the model wrote cannot change the layout or reach a file. Hebrew, Arabic,
Persian and Urdu set the whole page right to left (typst shapes and orders the text); the fonts are
typst's embedded ones (Libertinus Serif covers Latin and Hebrew), so the output is the same on every
machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

RTL_LANGUAGES = {"he", "ar", "fa", "ur", "yi"}

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "parent": "Report for the family",
        "professional": "Report for professionals",
        "age": "Age",
        "months": "months",
        "date": "Written on",
        "summary": "Summary",
        "strengths": "Strengths",
        "recommendations": "Recommendations",
        "questions": "Questions for the professionals",
    },
    "he": {
        "parent": "דוח למשפחה",
        "professional": "דוח לאנשי מקצוע",
        "age": "גיל",
        "months": "חודשים",
        "date": "נכתב בתאריך",
        "summary": "סיכום",
        "strengths": "חוזקות",
        "recommendations": "המלצות",
        "questions": "שאלות לאנשי המקצוע",
    },
    "ar": {
        "parent": "تقرير للعائلة",
        "professional": "تقرير للمختصين",
        "age": "العمر",
        "months": "شهرًا",
        "date": "كُتب في",
        "summary": "ملخص",
        "strengths": "نقاط القوة",
        "recommendations": "توصيات",
        "questions": "أسئلة للمختصين",
    },
}

TEMPLATE = r"""
#let data = json(bytes(sys.inputs.report))
#let labels = data.labels
#let report = data.content
#set document(title: report.title)
#set page(paper: "a4", margin: (x: 2cm, y: 2.2cm),
  footer: context align(center, text(size: 8pt, fill: luma(110))[#counter(page).display("1 / 1", both: true)]))
#set text(lang: data.lang, dir: if data.rtl { rtl } else { ltr }, size: 10.5pt)
#set par(justify: false, leading: 0.65em)
#show heading: set text(fill: rgb("#2b4c7e"))

#text(size: 9pt, fill: luma(90))[#labels.at(data.variant)]
#heading(level: 1)[#report.title]
#text(size: 9.5pt)[#data.child · #labels.age #data.age_months #labels.months · #labels.date #data.date]
#line(length: 100%, stroke: 0.5pt + luma(180))

#block(fill: luma(245), inset: 10pt, radius: 4pt, width: 100%)[
  #text(weight: "bold")[#labels.summary] \
  #report.summary
]

#for section in report.sections [
  #heading(level: 2)[#section.heading]
  #section.body
  #for point in section.at("points", default: ()) [
    - #point
  ]
]

#let listed(title, items) = if items.len() > 0 [
  #heading(level: 2)[#title]
  #for item in items [
    - #item
  ]
]
#listed(labels.strengths, report.at("strengths", default: ()))
#listed(labels.recommendations, report.at("recommendations", default: ()))
#listed(labels.questions, report.at("questions_for_professionals", default: ()))

#v(1em)
#line(length: 100%, stroke: 0.5pt + luma(180))
#text(size: 8.5pt, fill: luma(80))[#report.disclaimer]
"""


@dataclass(frozen=True)
class ReportPage:
    """What the PDF says beside the content: who it is about and when it was written."""

    child: str
    age_months: int | None
    variant: str  # parent | professional
    language: str  # BCP 47, e.g. he, en-GB
    date: str  # YYYY-MM-DD


def is_rtl(language: str) -> bool:
    return language.split("-", 1)[0].lower() in RTL_LANGUAGES


def render(content: dict[str, Any], page: ReportPage) -> bytes:
    """The report as PDF bytes."""
    import typst  # the renderer's wheel is only loaded by the jobs that render

    base = page.language.split("-", 1)[0].lower()
    data = {
        "content": content,
        "labels": LABELS.get(base, LABELS["en"]),
        "lang": base,
        "rtl": is_rtl(base),
        "variant": page.variant,
        "child": page.child,
        "age_months": "" if page.age_months is None else str(page.age_months),
        "date": page.date,
    }
    pdf = typst.compile(
        TEMPLATE.encode(), sys_inputs={"report": json.dumps(data, ensure_ascii=False)}, ignore_system_fonts=True
    )
    return bytes(pdf)
