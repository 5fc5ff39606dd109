"""The Telegram channel: updates in through long polling or a webhook, replies out."""

import os

# python-telegram-bot 22 is moving its time periods (retry_after, timeouts) from seconds to
# timedelta and warns on every read until a program opts in; we opt in, as it advises.
os.environ.setdefault("PTB_TIMEDELTA", "true")
