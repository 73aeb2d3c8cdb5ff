"""Steps 5 and 6 of the retail routine (建立聯系和信任, 日常維護): the contact log and the
maintenance tasks it leaves.

* :mod:`.policy`: ``[lifecycle.contacts]``: kinds, channels and outcomes of a contact, which count
  towards familiarity, the limits of a note;
* :mod:`.log`: logging one contact, checked whole, and what follows from it at once;
* :mod:`.followups`: the follow-ups due, done and reopened with a note;
* :mod:`.cli`: ``clientbook log``, ``followups`` and ``followup``.
"""
