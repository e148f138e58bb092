from statuspage import incidents, components
def test_smoke(db, make_component, make_incident, make_maintenance):
    a = make_component("API"); b = make_component("Web")
    inc = make_incident(components={a.id: "partial_outage", b.id: "partial_outage"})
    assert inc.impact == "major"
    st = components.page_status([c.status for c in components.all_components()], ["major"])
    assert st.description == "Partial System Outage"
    incidents.post_update(inc, status="monitoring", body="x")
    incidents.resolve_incident(inc)
    assert [c.status for c in components.all_components()] == ["operational"]*2
    m = make_maintenance(component_ids=[a.id])
    from datetime import timedelta
    incidents.run_due_transitions(now=m.scheduled_for + timedelta(minutes=1))
    assert a.status == "under_maintenance"
    incidents.run_due_transitions(now=m.scheduled_until + timedelta(minutes=1))
    assert a.status == "operational" and m.status == "completed"
    d = components.uptime_days([a.id], days=3)
    assert len(d[a.id]) == 3
