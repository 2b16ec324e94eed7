"""The migration history of the models that lived in the former `spark` Django app.

They moved to `mls` (issue 15). This app (label "spark") keeps their first migrations, so a
database made before the move migrates on, and `0003` hands the models over to `mls` in state
only: no table is touched (mls/migrations/0001 takes them over, 0002 renames the tables).
"""
