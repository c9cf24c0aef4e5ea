/*
 * Interop test: the Eclipse Paho C synchronous client (MQTTClient.h, libpaho-mqtt3c)
 * against a broker at HOST PORT, over MQTT 3.1 and 3.1.1.
 *
 * Owns: its own MQTTClient handles, one forked child per will test (the child
 * exits without DISCONNECT so the broker must publish its will, MQTT-3.1.2-8).
 * Never: talks to anything but the address it is given; prints "FAIL" and exits
 * non-zero on the first failed check.
 *
 * Usage: paho_c_test HOST PORT
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fork, pipe, kill: also built outside CMake */
#endif

#include <MQTTClient.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_MS 5000L

static char g_uri[128];
static unsigned g_seq;

static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return -1;
}

/* Client ids and topics must not collide between tests or runs. */
static void unique(char *buf, size_t n, const char *prefix)
{
	snprintf(buf, n, "%s%ld-%u", prefix, (long)getpid(), ++g_seq);
}

struct will_spec {
	const char *topic;
	const char *payload;
	int qos;
	int retained;
};

static int open_client(MQTTClient *c, const char *id, int clean, int version,
		       const struct will_spec *will, int *session_present)
{
	MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
	MQTTClient_willOptions wopts = MQTTClient_willOptions_initializer;
	int rc = MQTTClient_create(c, g_uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL);

	if (rc != MQTTCLIENT_SUCCESS)
		return fail("MQTTClient_create(%s): %d", id, rc);
	opts.keepAliveInterval = 30;
	opts.cleansession = clean;
	opts.MQTTVersion = version;
	if (will) {
		wopts.topicName = will->topic;
		wopts.message = will->payload;
		wopts.qos = will->qos;
		wopts.retained = will->retained;
		opts.will = &wopts;
	}
	rc = MQTTClient_connect(*c, &opts);
	if (rc != MQTTCLIENT_SUCCESS) {
		MQTTClient_destroy(c);
		return fail("MQTTClient_connect(%s, v%d): %d", id, version, rc);
	}
	if (session_present)
		*session_present = opts.returned.sessionPresent;
	return 0;
}

static void close_client(MQTTClient *c)
{
	MQTTClient_disconnect(*c, 1000);
	MQTTClient_destroy(c);
}

static int subscribe(MQTTClient c, const char *topic, int qos)
{
	char *topics[1] = { (char *)topic };
	int granted[1] = { qos };
	int rc = MQTTClient_subscribeMany(c, 1, topics, granted);

	if (rc != MQTTCLIENT_SUCCESS)
		return fail("subscribe %s: rc %d", topic, rc);
	if (granted[0] != qos)
		return fail("subscribe %s: granted %d, asked %d", topic, granted[0], qos);
	return 0;
}

static int publish(MQTTClient c, const char *topic, const void *payload, int len, int qos,
		   int retained)
{
	MQTTClient_message msg = MQTTClient_message_initializer;
	MQTTClient_deliveryToken token = 0;
	int rc;

	msg.payload = (void *)payload;
	msg.payloadlen = len;
	msg.qos = qos;
	msg.retained = retained;
	rc = MQTTClient_publishMessage(c, topic, &msg, &token);
	if (rc != MQTTCLIENT_SUCCESS)
		return fail("publish %s: rc %d", topic, rc);
	if (qos > 0) {
		rc = MQTTClient_waitForCompletion(c, token, TIMEOUT_MS);
		if (rc != MQTTCLIENT_SUCCESS)
			return fail("publish %s: no completion (rc %d)", topic, rc);
	}
	return 0;
}

/* Waits for one message; *out must be freed with MQTTClient_freeMessage. */
static int receive(MQTTClient c, long timeout_ms, char **topic, MQTTClient_message **out)
{
	long waited = 0;

	*out = NULL;
	*topic = NULL;
	while (waited < timeout_ms) {
		int tlen = 0;
		int rc = MQTTClient_receive(c, topic, &tlen, out, 250);

		if (rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED)
			return fail("MQTTClient_receive: rc %d", rc);
		if (*out)
			return 0;
		waited += 250;
	}
	return 1; /* nothing arrived */
}

static int expect_message(MQTTClient c, const char *topic, const char *payload, int qos,
			  int retained)
{
	char *t;
	MQTTClient_message *m;
	int rc = receive(c, TIMEOUT_MS, &t, &m);

	if (rc < 0)
		return rc;
	if (rc > 0)
		return fail("no message on %s", topic);
	rc = 0;
	if (strcmp(t, topic) != 0)
		rc = fail("topic %s, expected %s", t, topic);
	else if (m->payloadlen != (int)strlen(payload) ||
		 memcmp(m->payload, payload, (size_t)m->payloadlen) != 0)
		rc = fail("payload %.*s, expected %s", m->payloadlen, (char *)m->payload, payload);
	else if (m->qos != qos)
		rc = fail("qos %d, expected %d on %s", m->qos, qos, topic);
	else if (!!m->retained != !!retained)
		rc = fail("retained %d, expected %d on %s", m->retained, retained, topic);
	MQTTClient_freeMessage(&m);
	MQTTClient_free(t);
	return rc;
}

static int expect_nothing(MQTTClient c, long ms)
{
	char *t;
	MQTTClient_message *m;
	int rc = receive(c, ms, &t, &m);

	if (rc < 0)
		return rc;
	if (rc == 0) {
		rc = fail("unexpected message on %s", t);
		MQTTClient_freeMessage(&m);
		MQTTClient_free(t);
		return rc;
	}
	return 0;
}

static int test_qos_round_trip(int version, int qos)
{
	MQTTClient sub, pub;
	char id[64], topic[64], payload[32];
	int rc;

	unique(topic, sizeof topic, "pc/rt/");
	snprintf(payload, sizeof payload, "v%d-q%d", version, qos);
	unique(id, sizeof id, "pcs");
	if (open_client(&sub, id, 1, version, NULL, NULL))
		return -1;
	unique(id, sizeof id, "pcp");
	if (open_client(&pub, id, 1, version, NULL, NULL)) {
		close_client(&sub);
		return -1;
	}
	rc = subscribe(sub, topic, qos);
	if (!rc)
		rc = publish(pub, topic, payload, (int)strlen(payload), qos, 0);
	if (!rc)
		rc = expect_message(sub, topic, payload, qos, 0);
	close_client(&pub);
	close_client(&sub);
	return rc;
}

static int test_retained(int version)
{
	MQTTClient pub, sub;
	char id[64], topic[64];
	int rc;

	unique(topic, sizeof topic, "pc/ret/");
	unique(id, sizeof id, "pcp");
	if (open_client(&pub, id, 1, version, NULL, NULL))
		return -1;
	rc = publish(pub, topic, "kept", 4, 1, 1);
	close_client(&pub);
	if (rc)
		return rc;
	unique(id, sizeof id, "pcs");
	if (open_client(&sub, id, 1, version, NULL, NULL))
		return -1;
	rc = subscribe(sub, topic, 2);
	/* MQTT-3.3.1-6/-8: delivered on subscribe, retain flag set, at QoS 1. */
	if (!rc)
		rc = expect_message(sub, topic, "kept", 1, 1);
	close_client(&sub);
	return rc;
}

/* The child connects with a will and exits without DISCONNECT. */
static int test_will(int version)
{
	char topic[64], id[64];
	int to_child[2], to_parent[2];
	MQTTClient watcher;
	struct will_spec will;
	pid_t pid;
	int status, rc;
	char b = 0;

	unique(topic, sizeof topic, "pc/will/");
	unique(id, sizeof id, "pcv");
	if (pipe(to_child) || pipe(to_parent))
		return fail("pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		MQTTClient victim;

		will.topic = topic;
		will.payload = "gone";
		will.qos = 1;
		will.retained = 0;
		b = open_client(&victim, id, 1, version, &will, NULL) ? 'x' : 'c';
		if (write(to_parent[1], &b, 1) != 1 || read(to_child[0], &b, 1) != 1)
			_exit(3);
		_exit(0); /* the socket closes with the process: no DISCONNECT */
	}
	close(to_child[0]);
	close(to_parent[1]);
	rc = 0;
	if (read(to_parent[0], &b, 1) != 1 || b != 'c')
		rc = fail("will child could not connect");
	unique(id, sizeof id, "pcw");
	if (!rc && open_client(&watcher, id, 1, version, NULL, NULL) == 0) {
		rc = subscribe(watcher, topic, 2);
		b = 'g';
		if (write(to_child[1], &b, 1) != 1)
			rc = fail("pipe write");
		waitpid(pid, &status, 0);
		if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
			rc = fail("will child failed");
		if (!rc)
			rc = expect_message(watcher, topic, "gone", 1, 0);
		close_client(&watcher);
	} else {
		if (!rc)
			rc = -1;
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	close(to_child[1]);
	close(to_parent[0]);
	return rc;
}

static int test_persistent_session(int version)
{
	MQTTClient c, pub;
	char id[64], pid_[64], topic[64], payload[16];
	int rc, present = -1;

	unique(id, sizeof id, "pcps");
	unique(topic, sizeof topic, "pc/ps/");
	if (open_client(&c, id, 0, version, NULL, NULL))
		return -1;
	rc = subscribe(c, topic, 1);
	close_client(&c);
	if (rc)
		return rc;
	unique(pid_, sizeof pid_, "pcp");
	if (open_client(&pub, pid_, 1, version, NULL, NULL))
		return -1;
	for (int i = 0; i < 3 && !rc; i++) {
		snprintf(payload, sizeof payload, "off%d", i);
		rc = publish(pub, topic, payload, (int)strlen(payload), 1, 0);
	}
	close_client(&pub);
	if (rc)
		return rc;
	if (open_client(&c, id, 0, version, NULL, &present))
		return -1;
	/* MQTT-3.2.2-2; 3.1's CONNACK has no session present flag. */
	if (version == MQTTVERSION_3_1_1 && present != 1)
		rc = fail("session present %d on resume", present);
	for (int i = 0; i < 3 && !rc; i++) {
		snprintf(payload, sizeof payload, "off%d", i);
		rc = expect_message(c, topic, payload, 1, 0);
	}
	if (!rc)
		rc = expect_nothing(c, 300);
	close_client(&c);
	/* A clean session afterwards must not see the old subscription. */
	if (!rc && open_client(&c, id, 1, version, NULL, &present) == 0) {
		if (version == MQTTVERSION_3_1_1 && present != 0)
			rc = fail("session present %d for a clean session", present);
		close_client(&c);
	}
	return rc;
}

static int report(const char *name, int version, int rc)
{
	printf("%s %s (MQTT protocol level %d)\n", rc ? "FAIL" : "ok", name, version);
	fflush(stdout);
	return rc != 0;
}

int main(int argc, char **argv)
{
	static const int versions[] = { MQTTVERSION_3_1, MQTTVERSION_3_1_1 };
	int failures = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
		return 2;
	}
	snprintf(g_uri, sizeof g_uri, "tcp://%s:%s", argv[1], argv[2]);
	for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
		int ver = versions[v];

		for (int qos = 0; qos <= 2; qos++) {
			char name[32];

			snprintf(name, sizeof name, "qos%d round trip", qos);
			failures += report(name, ver, test_qos_round_trip(ver, qos));
		}
		failures += report("retained", ver, test_retained(ver));
		failures += report("will on abrupt close", ver, test_will(ver));
		failures += report("persistent session", ver, test_persistent_session(ver));
	}
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
