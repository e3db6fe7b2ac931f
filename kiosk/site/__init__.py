"""The site service (``kiosk site``): the one place every kiosk of a site shares. Patients invited for an
appointment check in on their own phone before they come (docs/site.md).

``db``: the data, on an embedded SQLCipher file or PostgreSQL; ``invitations``: one link per appointment;
``patient``: the patient listener's pages; ``api``: the site listener's APIs; ``server``: both listeners.
"""
