"""The front desk: staff sign-in and actions, incidents and their texts, staff mode's rules on the kiosk, the desk
web page and the peer API between kiosks."""
