/*
 * hooks — the broker's mq_auth_fn and mq_acl_fn over password files and
 * ACL files (see include/musqratt/auth.h).
 *
 * Owns: nothing; the policies and what they point to are borrowed.
 * Never: a system call.
 * Hot path: mq_auth_acl_hook() on every delivery when an ACL is set.
 */
#include <string.h>

#include "musqratt/auth.h"
#include "musqratt/codec.h"

static const mq_auth_policy_t *mq__policy(const mq_auth_t *auth, const mq_conn_t *c)
{
    size_t i = auth->per_listener ? mq_conn_listener(c) : 0;

    return i < auth->n ? auth->policies[i] : NULL;
}

int mq_auth_connect_hook(void *ctx, const mq_conn_t *c, const mq_connect_t *co)
{
    const mq_auth_policy_t *pol = mq__policy(ctx, c);

    if (!pol)
        return MQ_CONNACK_NOT_AUTHORIZED;
    /* use_identity_as_username: the transport vouched for the name. */
    if (mq_conn_identity(c))
        return MQ_CONNACK_ACCEPTED;
    if (!co->has_username)
        return pol->allow_anonymous ? MQ_CONNACK_ACCEPTED : MQ_CONNACK_NOT_AUTHORIZED;
    if (!pol->passwd)
        return MQ_CONNACK_ACCEPTED; /* Mosquitto: a username nobody can check passes */
    /* Mosquitto 2.0.11 answers 5 (MQTT 5: 0x87 Not authorized) for an
     * unknown user, a wrong password and a missing one alike. */
    if (!mq_passwd_check(pol->passwd, (const char *)co->username.ptr, co->username.len,
                         co->has_password ? (co->password.ptr ? co->password.ptr : (const uint8_t *)"")
                                          : NULL,
                         co->has_password ? co->password.len : 0))
        return MQ_CONNACK_NOT_AUTHORIZED;
    return MQ_CONNACK_ACCEPTED;
}

bool mq_auth_acl_hook(void *ctx, const mq_conn_t *c, const char *topic, size_t len, int access)
{
    const mq_auth_policy_t *pol = mq__policy(ctx, c);

    if (!pol)
        return false;
    if (!pol->acl)
        return true;
    return mq_acl_check(pol->acl, mq_conn_username(c), mq_conn_client_id(c), topic, len, access);
}

bool mq_auth_has_acl(const mq_auth_t *auth)
{
    for (size_t i = 0; i < auth->n; i++)
        if (auth->policies[i] && auth->policies[i]->acl)
            return true;
    return false;
}
