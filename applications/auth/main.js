// auth: accept only clients that present the right token.
//
// The token comes as the first extra connect argument (Flash:
// nc.connect(url, token); ffmpeg: -rtmp_conn "S:token") or as ?token= in
// the connect URL. A client with a wrong or missing token is rejected: it
// sees NetConnection.Connect.Rejected with info.application set to the
// error object below.

var TOKEN = "s3cret"; // change this, or load it from a file with load()

function tokenOf(client, arg) {
	if (typeof arg == "string" && arg !== "") {
		return arg;
	}
	var m = /[?&]token=([^&]*)/.exec(client.uri);
	return m ? decodeURIComponent(m[1]) : "";
}

application.onConnect = function (client, token) {
	if (tokenOf(client, token) !== TOKEN) {
		trace("rejecting " + client.ip + " (" + client.agent + "): bad token");
		application.rejectConnection(client, {code: "Auth.BadToken", message: "invalid or missing token"});
		return false;
	}
	return true;
};

application.onPublish = function (client, stream) {
	trace(client.id + " publishes " + stream.name);
};
