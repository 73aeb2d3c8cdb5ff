"""Step 4 of the retail routine (分級制定計劃): grade intent, set service levels, plan contacts and
hand every person their day's calls.

* :mod:`.policy`: ``[lifecycle.planning]``;
* :mod:`.calendar`: working days (public holidays, adjusted working days, the branch's own days);
* :mod:`.plans`: the plan of every retail customer, made by the run through ``clientbook_plan``;
* :mod:`.calls`: each person's calls for a day or a span of days, from the stored plans;
* :mod:`.exports`: call lists as CSV, XLSX and iCalendar;
* :mod:`.nightly`: the nightly routine (import, run, every person's call lists), all or nothing;
* :mod:`.agenda`: a person's day and week for the Today screen (no Textual);
* :mod:`.today`: the Today screen (Textual, imported only when it opens);
* ``cli_plan``: ``clientbook plan``, ``calls``, ``export calls`` and ``nightly``.
"""
