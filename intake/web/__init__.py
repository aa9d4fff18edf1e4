"""The coordinators' desk: the review queue, the register and the season in the browser.

Server-rendered pages (Flask and Jinja2, templates in templates/web), served by waitress.
Every page but the sign-in page needs a signed-in coordinator; every form carries a CSRF
token; every action is written to the audit log under the coordinator's name.
"""

from intake.web.app import create_app, serve, serve_in_background

__all__ = ["create_app", "serve", "serve_in_background"]
