"""``N_``: marks an English sentence for the translation catalogs where it is written (the catalogs are
checked against every such mark: kiosk.i18n.extract_messages); it is translated where it is shown, in the
language of the person reading it."""


def N_(message: str) -> str:
    return message


# The consent a site without its own text (consent.text_*) asks for, at the kiosk and on the patient's phone.
STANDARD_CONSENT = N_("I agree that the hospital stores and uses my details and my answers for my treatment and its "
                      "administration, as described in the patient information at the front desk.")
