"""Text from a file, a link or an upload, made safe to show as text.

Streamlit renders Markdown in titles, captions, alerts, toasts, labels, tables and image captions,
and Plotly renders a little HTML (links included) in legends and hover texts: a class name such as
`![x](http://host/x.png)` would make every visitor's browser fetch it. `md` escapes every Markdown
character; GitHub-flavoured Markdown still finds links in plain text after escapes are resolved
(`http://`, `https://`, `www.`, `a@b.c`), so an invisible word joiner (U+2060) goes after `http:`,
`https:`, `www` and `@`, which those patterns then no longer match. `plotly` escapes HTML, which
Plotly decodes back to the characters.
"""

from __future__ import annotations

import html
import re

WORD_JOINER = "\u2060"
_MARKDOWN = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_AUTOLINK = re.compile(r"https?:|www(?=\.)|@", re.IGNORECASE)  # where GFM's link finder starts


def md(text: object) -> str:
    """`text` for a Streamlit element that renders Markdown, shown exactly as written."""
    broken = _AUTOLINK.sub(lambda match: match.group(0) + WORD_JOINER, str(text))
    return _MARKDOWN.sub(r"\\\1", broken)


def plotly(text: object) -> str:
    """`text` for a Plotly legend entry, hover text or title, shown exactly as written."""
    return html.escape(str(text), quote=False)


def visible(text: str) -> str:
    """What a person reads of an `md` text (tests compare with it): `visible(md(t)) == t`."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace(WORD_JOINER, "")
