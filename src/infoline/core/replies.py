"""A decision's replies as the reader sees them: text and buttons in the reply's language.

Pure: the engine calls this inside its decision's transaction, so nothing here touches
the database or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infoline.core.i18n import Catalogs, OfficeHours, when_answered
from infoline.core.kb import Contacts, KnowledgeBase
from infoline.core.messages import LANGUAGES, Button
from infoline.core.policy import Menu, Reply
from infoline.core.strings import LANGUAGE_NAMES, TOPIC_NAMES
from infoline.core.topics import Topics
from infoline.store.db import now
from infoline.store.outbox import Draft

FEEDBACK_BUTTONS = (("feedback_yes", "feedback:yes"), ("feedback_no", "feedback:no"))


class Replies:
    """Renders replies from the knowledge base and the interface catalogs."""

    def __init__(
        self,
        topics: Topics,
        kb: KnowledgeBase,
        catalogs: Catalogs,
        hours: OfficeHours,
        contacts: Contacts,
    ) -> None:
        self._topics = topics
        self._kb = kb
        self._catalogs = catalogs
        self._hours = hours
        self._contacts = contacts

    def draft(
        self, reply: Reply, language: str, reply_to: dict[str, Any], available: bool = False
    ) -> Draft:
        """The outgoing message for one automatic reply to the message `reply_to` describes;
        `available`: a consultant who speaks the language is at work now."""
        text, buttons = self.render(reply, language, available)
        details = {
            "buttons": [[b.label, b.action] for b in buttons],
            "reply_to": reply_to,
            "automatic": True,
            "message_id": reply.message_id or reply.kb_topic,
        }
        return Draft(text, language, details)

    def render(
        self, reply: Reply, language: str, available: bool = False
    ) -> tuple[str, tuple[Button, ...]]:
        """Return a reply's text and buttons in `language`."""
        text = self._catalogs.text
        if reply.bilingual:
            return "\n\n".join(text(lang, reply.message_id or "") for lang in ("en", "pl")), ()
        parts: list[str] = []
        if reply.kb_topic:
            parts.append(self._kb.answer(reply.kb_topic, language, self._contacts))
        if reply.message_id:
            params = {"topics": self._topic_menu(language)}
            if reply.tell_when and available:
                params["when"] = text(language, "when_available")
            elif reply.tell_when:
                params["when"] = when_answered(self._catalogs, self._hours, language, now())
            parts.append(text(language, reply.message_id, **params))
        buttons: list[Button] = []
        if reply.ask_feedback:
            parts.append(text(language, "feedback_question"))
            buttons += (Button(text(language, label), action) for label, action in FEEDBACK_BUTTONS)
        if reply.menu:
            buttons += self._menu(reply.menu, language)
        return "\n\n".join(parts), tuple(buttons)

    def duty_notice(
        self, case_id: int, channel: str, case_language: str | None, language: str
    ) -> Draft:
        """The notice of an urgent case for the duty address: which case, never the user's
        words."""
        text = self._catalogs.text(
            language,
            "duty_urgent_case",
            case=str(case_id),
            channel=channel,
            lang=LANGUAGE_NAMES.get(case_language or "", case_language or "?"),
        )
        return Draft(text, language, {"automatic": True, "notice": "urgent_case", "case": case_id})

    def _menu(self, menu: Menu, language: str) -> list[Button]:
        if menu == "languages":
            return [Button(LANGUAGE_NAMES[lang], f"language:{lang}") for lang in LANGUAGES]
        if menu == "forget":
            text = self._catalogs.text
            return [Button(text(language, f"forget_{a}"), f"forget:{a}") for a in ("yes", "no")]
        return [Button(name, f"topic:{topic}") for topic, name in self._menu_topics(language)]

    def _menu_topics(self, language: str) -> list[tuple[str, str]]:
        return [
            (t, self._catalogs.text(language, TOPIC_NAMES[t]))
            for t in self._topics.with_answers()
            if t in TOPIC_NAMES
        ]

    def _topic_menu(self, language: str) -> str:
        return "\n".join(f"- {name}" for _, name in self._menu_topics(language))


def one_message(drafts: Sequence[Draft]) -> list[Draft]:
    """Join a decision's replies into one message: their texts as paragraphs, the last
    one's buttons and details (a mail per reply would be several mails answering one)."""
    if len(drafts) < 2:
        return list(drafts)
    last = drafts[-1]
    return [Draft("\n\n".join(d.text for d in drafts), last.language, last.details)]
