// chat: a user list in a SharedObject and a sendMessage method.
//
// Clients connect with their name as the first connect argument and use
// the temporary SharedObject "users" (client id -> name) to show who is
// here. nc.call("sendMessage", responder, text) sends text to everyone:
// the server calls onMessage(from, text) on each client's NetConnection.
// The last messages are kept in the persistent SharedObject "history".

var users, history;
var HISTORY = 20;

application.onAppStart = function () {
	users = SharedObject.get("users", false);
	history = SharedObject.get("history", true);
	trace("chat started: " + application.name);
};

application.onConnect = function (client, name) {
	client.name = (typeof name == "string" && name !== "") ? name : "guest" + client.id;
	users.setProperty(client.id, client.name);
	return true;
};

application.onDisconnect = function (client) {
	users.setProperty(client.id, null);
};

Client.prototype.sendMessage = function (text) {
	if (typeof text != "string" || text === "") {
		throw new Error("sendMessage needs a text");
	}
	var from = this.name;
	for (var i = 0; i < application.clients.length; i++) {
		application.clients[i].call("onMessage", null, from, text);
	}
	var n = (history.getProperty("count") || 0) + 1;
	history.lock();
	history.setProperty("count", n);
	history.setProperty("m" + n, {from: from, text: text, at: new Date()});
	history.setProperty("m" + (n - HISTORY), null);
	history.unlock();
	return n;
};
