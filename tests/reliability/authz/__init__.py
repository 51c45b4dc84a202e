"""The authorization matrix (issue 18): who may call every route and socket handler of every
dialect and of the console (`table.py` and its `table_<dialect>.py` parts), and the test that
calls each of them as every kind of caller (`test_authz_matrix.py`)."""
