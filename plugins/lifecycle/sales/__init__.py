"""Retail sales (产品销售): the pipeline and its rules (:mod:`.pipeline`), the policy
(:mod:`.policy`), the opportunities that triggers suggest (:mod:`.triggers`)."""
