"""Airflow DAG running a gnn-drug retrain job nightly (copy into your DAGs folder; needs apache-airflow >= 2.6).

Exit code 3 (challenger not promoted) marks the task *skipped*, not failed; 4 (invalid data), 5 (locked) and 1
fail it so that the on-call person is told. The audit record path is in the task log's last line."""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="gnn_drug_tox21_nightly",
    schedule="30 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # the job's own lock also refuses overlapping runs (exit 5)
    default_args={"retries": 0, "execution_timeout": timedelta(hours=6)},
) as dag:
    BashOperator(
        task_id="retrain",
        bash_command="cd /srv/gnn-drug && .venv/bin/gnn-drug retrain /srv/jobs/tox21_nightly.yaml --log-json",
        env={"GNN_DRUG_DATA": "/srv/data/mirror"},
        append_env=True,
        skip_on_exit_code=3,
    )
