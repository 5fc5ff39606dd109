"""Every interface message id, marked for extraction into the gettext catalogs.

The texts themselves live in src/infoline/locale/<lang>/LC_MESSAGES/infoline.po, English
included; `make messages` extracts, updates and compiles them.
"""

from __future__ import annotations

from infoline.core.i18n import _

MESSAGE_IDS = (
    _("welcome"),
    _("help"),
    _("greet"),
    _("goodbye"),
    _("thanks"),
    _("bot_challenge"),
    _("out_of_scope"),
    _("feedback_question"),
    _("feedback_thanks"),
    _("feedback_yes"),
    _("feedback_no"),
    _("case_opened"),
    _("case_reopened"),
    _("when_today"),
    _("when_later"),
    _("when_available"),
    _("duty_urgent_case"),
    _("unreadable"),
    _("sticker"),
    _("empty"),
    _("rephrase"),
    _("nlu_unavailable"),
    _("other_language"),
    _("language_set"),
    _("language_choose"),
    _("forget_confirm"),
    _("forget_yes"),
    _("forget_no"),
    _("forget_done"),
    _("forget_kept"),
    _("private_only"),
    _("command_start"),
    _("command_help"),
    _("command_language"),
    _("command_human"),
    _("command_forget"),
)

# Each language offered in its own name, whatever the reply's language.
LANGUAGE_NAMES = {"pl": "Polski", "uk": "Українська", "ru": "Русский", "en": "English"}

# The topic menu of /help and of "what can you do"; emergency is never a menu item.
TOPIC_NAMES = {
    "legal_stay_ukraine": _("topic_legal_stay_ukraine"),
    "residence_permit": _("topic_residence_permit"),
    "international_protection": _("topic_international_protection"),
    "work": _("topic_work"),
    "accommodation": _("topic_accommodation"),
    "humanitarian_aid": _("topic_humanitarian_aid"),
    "healthcare": _("topic_healthcare"),
    "mental_health": _("topic_mental_health"),
    "education": _("topic_education"),
    "language_courses": _("topic_language_courses"),
    "social_benefits": _("topic_social_benefits"),
    "legal_assistance": _("topic_legal_assistance"),
    "documents": _("topic_documents"),
    "travel_and_border": _("topic_travel_and_border"),
    "voluntary_return": _("topic_voluntary_return"),
    "cultural_mediation": _("topic_cultural_mediation"),
    "discrimination": _("topic_discrimination"),
    "infoline_contact": _("topic_infoline_contact"),
}
