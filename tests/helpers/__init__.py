"""Helpers shared by the test suite, importable as ``helpers.<module>`` (``tests/`` is on ``sys.path``).

One module per concept; the fixtures that use them stay in the ``conftest.py`` files:

* :mod:`helpers.keys`: the API key and webhook signing secrets tests use (the secret audit watches them);
* :mod:`helpers.net`: free ports on 127.0.0.1;
* :mod:`helpers.connections`: ``sixtyfour`` connections as ``AIRFLOW_CONN_*`` values;
* :mod:`helpers.triggers`: the first event a trigger yields;
* :mod:`helpers.files`: file digests;
* :mod:`helpers.airflow_cli`: the real ``airflow`` CLI in a throwaway home, and the installed major version;
* :mod:`helpers.lineage`: OpenLineage's file transport and the events it wrote;
* :mod:`helpers.s3`: a moto S3 server's connection and Airflow's object-store cache;
* :mod:`helpers.webhooks`: a local HTTP sink that records webhook deliveries;
* :mod:`helpers.hooks`: the hook tests' sync/async client, log capture, stub HTTP server and waits;
* :mod:`helpers.receiver`: the webhook receiver tests' fake Airflow API and signed deliveries;
* :mod:`helpers.landing`: the transfer tests' sizes, download options, runs and signed-URL checks.
"""
