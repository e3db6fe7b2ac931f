"""``N_``: marks an English sentence for the translation catalogs where it is written (the catalogs are
checked against every such mark: kiosk.i18n.extract_messages); it is translated where it is shown, in the
language of the person reading it."""


def N_(message: str) -> str:
    return message
