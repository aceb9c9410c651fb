"""Text from a file, a link or an upload, made safe to show as text.

Streamlit renders Markdown in titles, captions, alerts, toasts, labels, tables and image captions,
and Plotly renders a little HTML (links included) in legends and hover texts: a class name such as
`![x](http://host/x.png)` would make every visitor's browser fetch it. `md` escapes every Markdown
character; GitHub-flavoured Markdown still finds links in plain text after escapes are resolved
(`http://`, `www.`, `a@b.c`), so an invisible word joiner (U+2060) goes after each `:` and `@` and
before each `.`. `plotly` escapes HTML, which Plotly decodes back to the characters.
"""

from __future__ import annotations

import html
import re

WORD_JOINER = "\u2060"
_MARKDOWN = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def md(text: object) -> str:
    """`text` for a Streamlit element that renders Markdown, shown exactly as written."""
    escaped = _MARKDOWN.sub(r"\\\1", str(text))
    return (escaped.replace("\\:", "\\:" + WORD_JOINER).replace("\\@", "\\@" + WORD_JOINER)
            .replace("\\.", WORD_JOINER + "\\."))


def plotly(text: object) -> str:
    """`text` for a Plotly legend entry, hover text or title, shown exactly as written."""
    return html.escape(str(text), quote=False)


def visible(text: str) -> str:
    """What a person reads of an `md` text (tests compare with it): `visible(md(t)) == t`."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace(WORD_JOINER, "")
