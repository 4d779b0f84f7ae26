/*
 * GET /api/user: who the dashboard is talking to and what it may show
 * them. Everything comes from the identity the router already checked;
 * the flags are hints for the UI, the router enforces the real rules.
 */
#include <stddef.h>
#include <string.h>

#include "api.h"
#include "config.h"

int
user_get(struct request *req)
{
	const struct user	*u = &req->user;
	struct json_object	*obj, *groups;
	size_t			 i;
	int			 admin = u->role == ROLE_ADMIN, employee = 0;

	groups = json_object_new_array();
	for (i = 0; i < u->ngroups; i++) {
		json_object_array_add(groups,
		    json_object_new_string(u->groups[i]));
		if (strcmp(u->groups[i], req->cfg->employee_group) == 0)
			employee = 1;
	}
	obj = json_object_new_object();
	json_object_object_add(obj, "username",
	    json_object_new_string(u->name));
	json_object_object_add(obj, "name", json_object_new_string(u->display));
	json_object_object_add(obj, "email", json_object_new_string(u->email));
	json_object_object_add(obj, "groups", groups);
	json_object_object_add(obj, "role",
	    json_object_new_string(admin ? "admin" : "employee"));
	json_object_object_add(obj, "is_admin", json_object_new_boolean(admin));
	json_object_object_add(obj, "is_employee",
	    json_object_new_boolean(employee));
	json_object_object_add(obj, "can_manage_workflows",
	    json_object_new_boolean(admin));
	json_object_object_add(obj, "can_run", json_object_new_boolean(1));
	reply_json(req, 200, obj);
	return 0;
}
