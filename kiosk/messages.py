"""``N_``: marks an English sentence for the translation catalogs where it is written (the catalogs are
checked against every such mark: kiosk.i18n.extract_messages); it is translated where it is shown, in the
language of the person reading it."""


def N_(message: str) -> str:
    return message


# The consent a site without its own text (consent.text_*) asks for, at the kiosk and on the patient's phone.
STANDARD_CONSENT = N_("I agree that the hospital stores and uses my details and my answers for my treatment and its "
                      "administration, as described in the patient information at the front desk.")

# What an action on an incident says, on the desk page of the kiosk that holds it or of the site service (the peer
# API answers with these msgids; the page says them in its language).
MSG_TAKEN = N_("You have taken this incident.")
MSG_RESOLVED = N_("The incident is resolved.")
MSG_GONE = N_("This incident is no longer open.")


def shown(value) -> str:
    """``value`` as a sentence quotes it, on one line: a number as written, a text in quotes with its
    control characters escaped, a long text by its start and its length."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and len(value) > 40:
        return f"{value[:20]!r}... ({len(value)} characters)"
    return repr(value)
