"""Dyade's event contracts: the one place where events, their versions and their topics are declared.

Every service imports from here; nothing else declares an event. See `envelope.py` for what every
event carries, `vocabulary.py` for the domain's words, one module per domain for its events, and
`topics.py` for where they travel.
"""
from dyade.contracts.envelope import Event, EventError, decode, encode, registry  # noqa: F401
from dyade.contracts.vocabulary import *  # noqa: F401,F403
from dyade.contracts.calls import *  # noqa: F401,F403
from dyade.contracts.referrals import *  # noqa: F401,F403
from dyade.contracts.triage import *  # noqa: F401,F403
from dyade.contracts.frames import *  # noqa: F401,F403
from dyade.contracts.alerts import *  # noqa: F401,F403
from dyade.contracts.communications import *  # noqa: F401,F403
from dyade.contracts.inbound import *  # noqa: F401,F403
from dyade.contracts.topics import TOPICS, Topic, topic_for  # noqa: F401
