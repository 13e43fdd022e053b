"""Settings for the test suite: the real settings with a fast password hasher.

Everything else (database, broker, search) comes from the environment exactly as in
``marketplace.settings``; only what makes tests slow without changing what they check differs.
"""

from marketplace.settings import *  # noqa: F403

# PBKDF2 at Django's default cost spends ~100 ms of CPU per login or user creation; the suite
# creates thousands of users. Production keeps PBKDF2 (marketplace.settings).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Background jobs (route solves, bag plans) run inside the request when no broker is configured, so
# a test sees the result at once (tests that check the queued state switch the thread back on:
# settings.JOBS_IN_THREAD / settings.ROUTING_SOLVE_IN_THREAD = True).
JOBS_IN_THREAD = False
ROUTING_SOLVE_IN_THREAD = False
