// Test rig only: panva's oidc-provider (OpenID Certified) on loopback, for frontdesk's social sign-in tests.
//
//   node provider.mjs <port>          (or OIDC_PORT=<port>)
//
// OIDC_ISSUER overrides the issuer (default http://127.0.0.1:<port>), for a provider reached
// through a proxy (tests/oidc/tamper.py): every URL it makes comes from the request's Host.
//
// OIDC_CLIENTS is a JSON list of clients to register, e.g.
//   [{"client_id": "frontdesk", "client_secret": "...", "redirect_uris": ["http://127.0.0.1:8000/v1/oauth/corp/callback"]}]
// The provider's own development login and consent pages are on (devInteractions): any login
// name signs in with any password. The account behind a login name is made up from the name:
//   sub                  the login name as typed
//   email                the login name if it contains "@", else "<name>@example.com"
//   email_verified       true, unless the login name ends with "-unverified" (stripped from the email)
//   preferred_username   the email's local part
// so "alice" and "alice-unverified" are two identities with the same email, one of them unverified.
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.OIDC_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node provider.mjs <port>');
  process.exit(2);
}
const issuer = process.env.OIDC_ISSUER || `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]').map((client) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  ...client,
}));

function account(login) {
  const unverified = login.endsWith('-unverified');
  const base = unverified ? login.slice(0, -'-unverified'.length) : login;
  const email = base.includes('@') ? base : `${base}@example.com`;
  return {
    sub: login,
    email,
    email_verified: !unverified,
    preferred_username: email.split('@')[0],
    name: base,
  };
}

const provider = new Provider(issuer, {
  clients,
  // PKCE (S256) for every client, not only public ones
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name'],
  },
  conformIdTokenClaims: false, // the scope's claims go in the ID token too, as Google and most IdPs do
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['frontdesk-test-provider-cookie-key'] },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return account(id); } };
  },
});
provider.proxy = false;
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider for ${issuer} listening on 127.0.0.1:${port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
