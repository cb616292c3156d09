def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_sign_in_round_trip(client, make_account, sign_in):
    account = make_account(role="advocate", name="Dana Example")
    response = sign_in(account, by_email=True)
    assert response.headers["Location"] == "/portal"
    assert "Hello, Dana Example" in client.get("/portal").get_data(as_text=True)
