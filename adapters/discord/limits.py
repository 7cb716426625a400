"""Discord's documented message limits, as data next to the renderer.

The renderer keeps every payload inside them; the fake Discord in tests/fakes
enforces the same numbers and answers like Discord when one is broken.
"""

from __future__ import annotations

CONTENT = 2000  # message content
EMBEDS_PER_MESSAGE = 10
EMBED_TOTAL = 6000  # title + description + field names/values + footer + author name, all embeds
TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR_NAME = 256
URL = 2048  # our own cap for any URL we emit (Discord's is not documented)
NONCE = 25

# Choices of an autocomplete answer.
CHOICES = 25
CHOICE_NAME = 100
CHOICE_VALUE = 100

# Our own budget for one paper's embed, well inside the limits above so that a
# paper always fits an empty message (the shared splitter requires it).
ENTRY_DESCRIPTION = 2048
ENTRY_FIELD_VALUE = 1024
ENTRY_FOOTER = 200

# Message components: action rows of buttons (one row of feedback buttons per paper).
ACTION_ROWS = 5
ROW_COMPONENTS = 5
CUSTOM_ID = 100
BUTTON_LABEL = 80

# Rate: a bot token may make 50 requests a second across all routes (the global rate
# limit); 10,000 refused requests (401, 403, 429) in 10 minutes get the client's IP
# banned for an hour. Bot requests are paced below the limit (clocks and sleeps jitter).
GLOBAL_REQUESTS_PER_SECOND = 50
PACED_REQUESTS_PER_SECOND = 45
