// p2p-directory: RTMFP clients register their peer IDs under a name and
// look each other up, to open direct NetStreams
// (new NetStream(nc, peerID)).
//
// register(name) records the caller's peer ID: client.farID for RTMFP
// clients; a client may pass its nc.nearID as a second argument instead.
// lookup(name) returns the peer ID or null. The SharedObject "peers"
// mirrors the directory for clients that want to watch it.

var directory = {}; // name -> {id: client id, peerID: hex}
var peers;

application.onAppStart = function () {
	peers = SharedObject.get("peers", false);
};

Client.prototype.register = function (name, peerID) {
	var id = this.farID || peerID;
	if (typeof name != "string" || name === "" || typeof id != "string" || !/^[0-9a-f]{64}$/i.test(id)) {
		throw new Error("register(name) needs a name and an RTMFP peer ID");
	}
	directory[name] = {id: this.id, peerID: id.toLowerCase()};
	peers.setProperty(name, directory[name].peerID);
	return directory[name].peerID;
};

Client.prototype.lookup = function (name) {
	var e = directory[name];
	return e ? e.peerID : null;
};

application.onDisconnect = function (client) {
	for (var name in directory) {
		if (directory[name].id === client.id) {
			delete directory[name];
			peers.setProperty(name, null);
		}
	}
};
