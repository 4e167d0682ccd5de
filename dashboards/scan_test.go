package dashboards

import "reflect"

// newScanTarget returns a pointer to a fresh value of the driver's scan type.
func newScanTarget(t reflect.Type) any { return reflect.New(t).Interface() }

// deref returns the value behind a scan target, nil for a NULL.
func deref(p any) any {
	v := reflect.ValueOf(p).Elem()
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	return v.Interface()
}
