"""What a pushed study material looks like, with its "studied" and "read in full" buttons."""

from __future__ import annotations

from messages.callbacks import STUDY_DONE, STUDY_OPEN
from messages.render import Reader, Rendered, Renderer
from storage.models import ChannelName
from storage.payloads import Study
from storage.study import MaterialView

# A pushed material shows this much of its text; "read in full" shows the rest.
EXCERPT = 600
SMS_EXCERPT = 60


def excerpt(text: str, limit: int) -> tuple[str, bool]:
    """text cut at limit characters (at a line end when one is near); True if cut."""
    if len(text) <= limit:
        return text, False
    cut = text.rfind("\n", limit // 2, limit)
    return text[: cut if cut > 0 else limit].rstrip() + "…", True


def study_message(
    renderer: Renderer, locale: str, channel: ChannelName, material: MaterialView
) -> Rendered:
    """The push of one material to one member."""
    if channel is ChannelName.SMS:
        short, _ = excerpt(material.body, SMS_EXCERPT)
        return renderer.render_text(locale, "study/push_sms", material=material, body=short), ()
    body, cut = excerpt(material.body, EXCERPT)
    buttons = [(renderer.label(locale, "study.studied"), STUDY_DONE.pack(material.id))]
    if cut or material.document_name:
        buttons.append((renderer.label(locale, "study.open"), STUDY_OPEN.pack(material.id)))
    text = renderer.render(locale, "study/push", material=material, body=body, cut=cut)
    return text, tuple(buttons)


def study_push(reader: Reader, payload: Study, material: MaterialView | None) -> Rendered | None:
    """An outbox STUDY row: the push of its material (None: the material is gone)."""
    if material is None:
        return None
    return study_message(reader.renderer, reader.locale, reader.channel, material)
