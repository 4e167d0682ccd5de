-- Row counts of the other fact tables, compared with the truth.
SELECT
    (SELECT count() FROM ticket_facts) AS tickets,
    (SELECT count() FROM deployment_facts) AS deployments,
    (SELECT sum(gate_blocked) FROM deployment_facts) AS gate_blocked,
    (SELECT count() FROM findings) AS findings
